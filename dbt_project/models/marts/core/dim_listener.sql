-- One row per listener (account), with an Unknown member. Accounts with plays but no longer
-- in config still get a member (in UTC), so no play is lost.
with

listeners as (

    select * from {{ ref('stg_pipeline__listeners') }}

),

played_accounts as (

    select distinct account from {{ ref('stg_spotify__plays') }}

),

members as (

    select
        {{ generate_surrogate_key(['coalesce(listeners.account, played_accounts.account)']) }}
            as listener_sk,
        coalesce(listeners.account, played_accounts.account) as account,
        coalesce(listeners.display_name, played_accounts.account) as display_name,
        coalesce(listeners.timezone, 'UTC') as timezone,
        listeners.account is not null as is_configured

    from listeners
    full outer join played_accounts on listeners.account = played_accounts.account

),

final as (

    select * from members
    union all
    select {{ unknown_key() }}, '-1', 'Unknown', 'UTC', false

)

select * from final
