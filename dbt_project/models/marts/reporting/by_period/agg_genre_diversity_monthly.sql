-- depends_on: {{ ref('int_reporting_window') }}
-- Incremental by local month (macro reporting_window): a build recomputes the local months from
-- int_reporting_window's first day on, and keeps the others; a full refresh gives the same rows.
-- How varied each listener's music is per local month: distinct genres, Shannon entropy of
-- the genre shares, its evenness (0-1) and the effective number of genres (exp(entropy)).
-- Computed over known genres; unknown_share says how much is not tagged yet.
with

shares as (

    select * from {{ ref('agg_genre_share_monthly') }}
    {%- if is_incremental() %}
    where month_start >= date_trunc('month', {{ reporting_since() }})
    {%- endif %}

),

known as (

    select
        *,
        minutes_played / sum(minutes_played) over (partition by listener_sk, month_start) as p
    from shares
    where genre_name <> 'Unknown' and minutes_played > 0

),

diversity as (

    select
        listener_sk,
        month_start,
        count(*) as distinct_genres,
        -sum(p * ln(p)) as shannon_entropy

    from known
    group by all

),

months as (

    select
        listener_sk,
        account,
        month_start,
        year_month,
        sum(minutes_played) as minutes_played,
        coalesce(sum(share_of_month) filter (where genre_name = 'Unknown'), 0) as unknown_share

    from shares
    group by all

),

final as (

    select
        ---------- keys
        {{ generate_surrogate_key(['months.listener_sk', 'months.month_start']) }}
            as diversity_sk,
        months.listener_sk,

        ---------- strings
        months.account,
        months.year_month,

        ---------- numerics
        round(months.minutes_played, 2) as minutes_played,
        coalesce(diversity.distinct_genres, 0) as distinct_genres,
        coalesce(diversity.shannon_entropy, 0) as shannon_entropy,
        case when diversity.distinct_genres > 1
            then diversity.shannon_entropy / ln(diversity.distinct_genres)
            else 0 end as genre_evenness,
        case when diversity.distinct_genres > 0
            then exp(diversity.shannon_entropy) else 0 end as effective_genres,
        months.unknown_share,

        ---------- dates
        months.month_start

    from months
    left join diversity
        on months.listener_sk = diversity.listener_sk
        and months.month_start = diversity.month_start

)

select * from final
