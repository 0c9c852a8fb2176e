-- Plays by where they came from (export, account data, polling), per year.
select year(local_date) as year, source, count(*) as plays
from fct_plays
group by 1, 2
order by 1, 2
