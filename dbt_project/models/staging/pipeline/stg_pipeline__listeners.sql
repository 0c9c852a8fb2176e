with

source as (

    select * from {{ source('pipeline', 'listeners') }}

),

renamed as (

    select
        ---------- ids
        account,

        ---------- strings
        display_name,
        timezone

    from source

)

select * from renamed
