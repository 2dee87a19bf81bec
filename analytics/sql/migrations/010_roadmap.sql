-- 010: the Roadmap page's plan. Stages from research to launch with dates, owner, people (headcount in
-- full-time equivalents), compute resources and a typed budget; the stages each depends on; risks (likelihood x
-- impact, 1-5 each); milestones; and budget lines linked to measured costs (a run's training $, or the
-- monthly serving $ of a Compare candidate x the stage's months). Checks that need several rows (a dependency
-- cycle, a dependency ending after its dependent starts) live in analytics.compute.roadmap.validate, run
-- before any write. No foreign keys: a plan is replaced in one transaction, and DuckDB refuses updates of
-- referenced rows.
create table roadmap_stages (
    stage_id integer primary key,
    name varchar not null unique check (length(trim(name)) > 0),
    position integer not null,
    start_date date not null,
    end_date date not null,
    owner varchar,
    people double check (people is null or people >= 0),
    compute varchar,
    budget_usd double not null default 0 check (budget_usd >= 0),
    notes varchar,
    is_sample boolean not null default false,
    check (end_date >= start_date)
);

create table roadmap_dependencies (
    stage_id integer not null,
    depends_on integer not null,
    is_sample boolean not null default false,
    primary key (stage_id, depends_on),
    check (stage_id <> depends_on)
);

create table roadmap_risks (
    risk_id integer primary key,
    stage_id integer not null,
    title varchar not null check (length(trim(title)) > 0),
    likelihood integer not null check (likelihood between 1 and 5),
    impact integer not null check (impact between 1 and 5),
    mitigation varchar,
    is_sample boolean not null default false
);

create table roadmap_milestones (
    milestone_id integer primary key,
    stage_id integer not null,
    name varchar not null check (length(trim(name)) > 0),
    due_date date not null,
    is_sample boolean not null default false
);

-- kind 'training': run_id's measured training $ (Compare's leaderboard row for the run).
-- kind 'serving': the monthly serving $ of a candidate on the Compare evaluation set `dataset` at
-- requests_per_month, x the stage's months; candidate_key is a leaderboard key ('run:<id>', 'api:<id>') or
-- null for the recommended candidate. estimate_usd: the planner's own figure, used until a measurement exists.
create table roadmap_budget_links (
    link_id integer primary key,
    stage_id integer not null,
    label varchar not null check (length(trim(label)) > 0),
    kind varchar not null check (kind in ('training', 'serving')),
    run_id varchar,
    dataset varchar,
    candidate_key varchar,
    requests_per_month double check (requests_per_month is null or requests_per_month > 0),
    estimate_usd double check (estimate_usd is null or estimate_usd >= 0),
    is_sample boolean not null default false,
    check (kind <> 'training' or run_id is not null),
    check (kind <> 'serving' or (dataset is not null and requests_per_month is not null))
);
