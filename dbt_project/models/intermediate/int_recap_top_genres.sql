-- Each listener's top genre of each local year (most minutes of the monthly genre shares;
-- Unknown never wins; ties go to the first name), for agg_year_recap.
with

genre_shares as (

    select * from {{ ref('agg_genre_share_monthly') }}

),

final as (

    select
        listener_sk,
        year,
        first(genre_name order by minutes desc, genre_name) as top_genre

    from (
        select listener_sk, year, genre_name, sum(minutes_played) as minutes
        from genre_shares
        where genre_name <> 'Unknown'
        group by all
    ) as by_genre
    group by all

)

select * from final
