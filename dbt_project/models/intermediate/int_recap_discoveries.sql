-- New artists and tracks per listener and local year (the monthly discoveries summed), for
-- agg_year_recap.
with

discovery as (

    select * from {{ ref('agg_discovery_monthly') }}

),

final as (

    select listener_sk, year(month_start) as year,
        sum(new_artists) as new_artists, sum(new_tracks) as new_tracks
    from discovery
    group by all

)

select * from final
