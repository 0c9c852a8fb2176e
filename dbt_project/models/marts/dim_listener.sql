with

listeners as (

    select * from {{ ref('stg_pipeline__listeners') }}

),

played_accounts as (

    -- Accounts with plays but no longer in config still get a member, so no play is lost.
    select distinct account from {{ ref('stg_spotify__plays') }}

),

members as (

    select
        {{ generate_surrogate_key(['coalesce(listeners.account, played_accounts.account)']) }}
            as listener_sk,
        coalesce(listeners.account, played_accounts.account) as account,
        coalesce(listeners.display_name, played_accounts.account) as display_name,
        coalesce(listeners.timezone, 'UTC') as timezone

    from listeners
    full outer join played_accounts on listeners.account = played_accounts.account

),

unknown as (

    select
        {{ unknown_key() }} as listener_sk,
        '-1' as account,
        'Unknown' as display_name,
        'UTC' as timezone

),

final as (

    select * from members
    union all
    select * from unknown

)

select * from final
