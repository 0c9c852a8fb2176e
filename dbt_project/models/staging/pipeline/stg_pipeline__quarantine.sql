with

source as (

    select * from {{ source('pipeline', 'quarantine') }}

),

renamed as (

    select
        ---------- ids
        account,

        ---------- strings
        source,
        source_file,
        reason,
        record,

        ---------- numerics
        source_row

    from source

)

select * from renamed
