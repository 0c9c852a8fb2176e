-- depends_on: {{ ref('int_reporting_window') }}
-- Incremental by local month (macro reporting_window): a build recomputes the months from
-- int_reporting_window's first day on, and keeps the others; a full refresh gives the same rows.
-- Genre share of each listener's music minutes per local month (artist genres weighted, so
-- a month's shares sum to 1; Unknown is the share of artists without genres yet).
with

genres as (

    select genre_sk, genre_name from {{ ref('dim_genre') }}

),

monthly as (

    select
        listener_sk,
        account,
        month_start,
        item_sk as genre_sk,
        weighted_ms_played as ms_played,
        weighted_plays

    from {{ ref('int_item_months') }}
    where item_type = 'genre'
    {%- if is_incremental() %}
        and month_start >= date_trunc('month', {{ reporting_since() }})
    {%- endif %}

),

final as (

    select
        ---------- keys
        {{ generate_surrogate_key(['monthly.listener_sk', 'monthly.month_start', 'monthly.genre_sk']) }}
            as genre_month_sk,
        monthly.listener_sk,
        monthly.genre_sk,

        ---------- strings
        monthly.account,
        genres.genre_name,
        strftime(monthly.month_start, '%Y-%m') as year_month,

        ---------- numerics
        year(monthly.month_start) as year,
        round(monthly.ms_played / 60000.0, 2) as minutes_played,
        round(monthly.weighted_plays, 3) as weighted_plays,
        monthly.ms_played / sum(monthly.ms_played) over (
            partition by monthly.listener_sk, monthly.month_start
        ) as share_of_month,
        row_number() over (
            partition by monthly.listener_sk, monthly.month_start
            order by monthly.ms_played desc, genres.genre_name
        ) as genre_rank,

        ---------- dates
        monthly.month_start

    from monthly
    inner join genres on monthly.genre_sk = genres.genre_sk

)

select * from final
