with

plays as (

    select * from {{ ref('stg_spotify__plays') }}
    where content_type = 'music' and artist_name is not null

),

artists as (

    select
        lower(artist_name) as artist_key,
        -- The most common spelling wins; ties go to the first alphabetically (deterministic).
        arg_max(artist_name, n) as artist_name
    from (
        select artist_name, count(*) as n from plays group by artist_name
    ) as spellings
    group by lower(artist_name)

),

final as (

    select
        {{ generate_surrogate_key(['artist_key']) }} as artist_sk,
        artist_key,
        artist_name
    from artists

    union all

    select {{ unknown_key() }}, '-1', 'Unknown'

)

select * from final
