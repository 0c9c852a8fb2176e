-- One row per platform string the export or API reported, grouped into a family.
with

plays as (

    select distinct platform from {{ ref('stg_spotify__plays') }}
    where platform is not null

),

final as (

    select
        {{ generate_surrogate_key(['platform']) }} as platform_sk,
        platform,
        case
            when lower(platform) like '%android%' then 'Android'
            when lower(platform) similar to '.*(ios|iphone|ipad).*' then 'iOS'
            when lower(platform) similar to '.*(osx|os x|macos|mac ).*' then 'macOS'
            when lower(platform) like '%windows%' then 'Windows'
            when lower(platform) like '%linux%' then 'Linux'
            when lower(platform) similar to '.*(web|browser|chrome|firefox|safari).*' then 'Web'
            when lower(platform) similar to '.*(cast|sonos|speaker|tv|echo|alexa|playstation|xbox|car).*'
                then 'Speaker, TV or car'
            else 'Other'
        end as platform_family

    from plays

    union all

    select {{ unknown_key() }}, 'Unknown', 'Unknown'

)

select * from final
