-- 005: api_candidates without 004's foreign key to prices. DuckDB refuses any UPDATE of a prices row that a
-- foreign key references (a documented limitation), which blocked price edits once an API candidate existed.
-- analytics/compare.py checks that price_id is an API price row before inserting instead.
create table api_candidates_005 as select * from api_candidates;
drop table api_candidates;
create table api_candidates (
    candidate_id integer primary key,
    name varchar not null,
    dataset varchar not null,
    price_id integer not null,
    accuracy double not null check (accuracy between 0 and 1),
    macro_f1 double check (macro_f1 is null or macro_f1 between 0 and 1),
    n_eval integer not null check (n_eval > 0),
    accuracy_source varchar not null check (length(trim(accuracy_source)) > 0),
    input_tokens_per_request double check (input_tokens_per_request is null or input_tokens_per_request > 0),
    output_tokens_per_request double check (output_tokens_per_request is null or output_tokens_per_request >= 0),
    matched_run_id varchar,
    entered_at timestamp not null,
    unique (dataset, name)
);
insert into api_candidates select * from api_candidates_005;
drop table api_candidates_005;
