-- Stretches where polling may have missed plays, per listener (for the data-quality view).
with

gaps as (

    select * from {{ ref('stg_pipeline__gaps') }}

),

final as (

    select
        ---------- keys
        gap_id as gap_sk,
        {{ generate_surrogate_key(['account']) }} as listener_sk,

        ---------- strings
        account,
        poll_file,

        ---------- numerics
        round(gap_minutes, 1) as gap_minutes,

        ---------- timestamps
        gap_start,
        gap_end,
        detected_at

    from gaps

)

select * from final
