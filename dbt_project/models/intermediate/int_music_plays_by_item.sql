-- Every music play once per thing it counts toward: its artist, its recording (releases of
-- one ISRC merged), its album, and each of its artist's genres (weighted, so minutes spread
-- over genres still add up to the play's minutes). The base of every top-N and tier mart.
with

plays as (

    -- Only the columns used below: `music` is read four times, so DuckDB materializes it,
    -- and every extra column of a million plays would be held (and spilled) for nothing.
    select listener_sk, account, local_date, play_sk, ms_played, track_sk, artist_sk, album_sk
    from {{ ref('fct_plays') }}
    where content_type = 'music'

),

tracks as (

    select track_sk, recording_sk from {{ ref('dim_track') }}

),

genres as (

    select * from {{ ref('bridge_artist_genre') }}

),

music as (

    select plays.*, tracks.recording_sk
    from plays
    inner join tracks on plays.track_sk = tracks.track_sk

),

final as (

    select listener_sk, account, local_date, play_sk, ms_played, 1.0 as weight,
        'artist' as item_type, artist_sk as item_sk
    from music
    union all
    select listener_sk, account, local_date, play_sk, ms_played, 1.0 as weight,
        'track' as item_type, recording_sk as item_sk
    from music
    union all
    select listener_sk, account, local_date, play_sk, ms_played, 1.0 as weight,
        'album' as item_type, album_sk as item_sk
    from music
    union all
    select music.listener_sk, music.account, music.local_date, music.play_sk, music.ms_played,
        genres.weight, 'genre' as item_type, genres.genre_sk as item_sk
    from music
    inner join genres on music.artist_sk = genres.artist_sk

)

select * from final
