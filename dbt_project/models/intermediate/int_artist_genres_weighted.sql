-- Genres per artist with a weight: within each source family (Spotify genres; MusicBrainz
-- genres and tags with votes that the genre seed recognises) an artist's genres share 1 by
-- vote count;
-- families present are averaged, so each tagged artist's weights sum to 1.
with

artists as (

    select * from {{ ref('int_artists_resolved') }}

),

known_genres as (

    select distinct lower(trim(genre)) as genre from {{ ref('musicbrainz_genres') }}

),

spotify as (

    select artist_key, unnest(spotify_genres) as genre_name, 1 as tag_count, 'spotify' as family
    from artists
    where spotify_genres is not null

),

musicbrainz_tags as (

    select artist_key, lower(trim(t.tag.name)) as genre_name, t.tag.count as tag_count
    from artists, unnest(musicbrainz_tags) as t(tag)
    union all
    select artist_key, lower(trim(g.tag.name)) as genre_name, g.tag.count as tag_count
    from artists, unnest(musicbrainz_genres) as g(tag)

),

musicbrainz as (

    -- A tag counts as a genre when MusicBrainz's genre list (the seed) names it and someone
    -- voted for it: the weight is its vote count, so a 0-vote tag (kept in dim_artist's tags)
    -- never weighs as much as a voted one.
    select artist_key, genre_name, max(tag_count) as tag_count, 'musicbrainz' as family
    from musicbrainz_tags
    where genre_name in (select genre from known_genres) and tag_count > 0
    group by artist_key, genre_name

),

tagged as (

    select artist_key, genre_name, tag_count, family from spotify
    where genre_name is not null and genre_name <> ''
    union all
    select artist_key, genre_name, tag_count, family from musicbrainz

),

shares as (

    select
        *,
        tag_count / sum(tag_count) over (partition by artist_key, family) as family_share,
        count(distinct family) over (partition by artist_key) as families

    from (
        select artist_key, genre_name, family, sum(tag_count) as tag_count
        from tagged group by all
    ) as deduped

),

final as (

    select
        artist_key,
        genre_name,
        sum(tag_count) as tag_count,
        string_agg(family, ',' order by family) as sources,
        sum(family_share) / max(families) as weight

    from shares
    group by artist_key, genre_name

)

select * from final
