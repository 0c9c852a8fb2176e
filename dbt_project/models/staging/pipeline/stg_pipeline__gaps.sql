-- Stretches where polling may have missed plays; one row per detection.
with

source as (

    select * from {{ source('pipeline', 'gaps') }}

),

renamed as (

    select
        ---------- ids
        {{ generate_surrogate_key(['account', 'gap_start', 'gap_end']) }} as gap_id,
        account,

        ---------- strings
        poll_file,

        ---------- numerics
        date_diff('second', gap_start, gap_end) / 60.0 as gap_minutes,

        ---------- timestamps
        gap_start,
        gap_end,
        detected_at

    from source
    -- The same gap can be seen by more than one poll: keep the first detection.
    qualify row_number() over (
        partition by account, gap_start, gap_end order by detected_at
    ) = 1

)

select * from renamed
