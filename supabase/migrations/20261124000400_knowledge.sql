-- Knowledge base (issue 6): documents a clinic uploads, split into chunks that are searched with
-- PostgreSQL full-text search. pgvector is not available, so optional embeddings are a float4[]
-- and vector similarity is computed in the application over the lexical candidates.

create extension if not exists pg_trgm;
-- btree_gin: the full-text index leads with clinic_id, so a term's probe reads one clinic's postings only.
create extension if not exists btree_gin;

create table knowledge_documents (
  id          uuid primary key default gen_random_uuid(),
  clinic_id   uuid not null references clinics(id) on delete cascade,
  source      text not null check (length(source) between 1 and 500),
  title       text not null check (length(title) between 1 and 300),
  bytes       int not null,
  chunks      int not null default 0,       -- kept with the chunks: N of the ranking's IDF without a count
  created_at  timestamptz not null default now(),
  updated_at  timestamptz not null default now(),
  unique (clinic_id, id),
  -- Posting the same source again replaces the document (upsert on this key).
  unique (clinic_id, source)
);
alter table knowledge_documents enable row level security;
alter table knowledge_documents force row level security;
create policy knowledge_documents_tenant on knowledge_documents for all to authenticated
  using (clinic_id = (select public.request_clinic_id())) with check (clinic_id = (select public.request_clinic_id()));
grant select, insert, update, delete on knowledge_documents to authenticated, service_role;

create table knowledge_chunks (
  id           bigint generated always as identity primary key,
  clinic_id    uuid not null references clinics(id) on delete cascade,
  document_id  uuid not null,
  ordinal      int not null,
  source       text not null,
  title        text not null,
  heading      text not null default '',      -- heading path inside the document, ' > ' separated
  body         text not null,
  -- Weighted: A = document title, B = heading path, D = body (see KnowledgeSearch for the ranking).
  tsv          tsvector not null,
  embedding    float4[],
  foreign key (clinic_id, document_id) references knowledge_documents (clinic_id, id) on delete cascade
);
create index knowledge_chunks_clinic_doc on knowledge_chunks (clinic_id, document_id);
create index knowledge_chunks_clinic_tsv on knowledge_chunks using gin (clinic_id, tsv);
alter table knowledge_chunks enable row level security;
alter table knowledge_chunks force row level security;
create policy knowledge_chunks_tenant on knowledge_chunks for all to authenticated
  using (clinic_id = (select public.request_clinic_id())) with check (clinic_id = (select public.request_clinic_id()));
grant select, insert, update, delete on knowledge_chunks to authenticated, service_role;

-- Per clinic: every lexeme of its chunks with the number of chunks holding it (document
-- frequency, for the IDF of the ranking) and a trigram index to correct misspelt query words.
create table knowledge_lexemes (
  clinic_id  uuid not null references clinics(id) on delete cascade,
  lexeme     text not null,
  df         int not null check (df >= 0),
  primary key (clinic_id, lexeme)
);
-- GIN (btree_gin for the uuid): lexemes of one clinic sharing enough trigrams with a query word.
-- GIN rather than GiST KNN: with the similarity threshold at 0.5 (set on knowledge_search) the
-- probe reads only lexemes sharing most trigrams, and GIN has no lossy signatures to recheck.
create index knowledge_lexemes_trgm on knowledge_lexemes using gin (clinic_id, lexeme gin_trgm_ops);
alter table knowledge_lexemes enable row level security;
alter table knowledge_lexemes force row level security;
create policy knowledge_lexemes_tenant on knowledge_lexemes for all to authenticated
  using (clinic_id = (select public.request_clinic_id())) with check (clinic_id = (select public.request_clinic_id()));
grant select, insert, update, delete on knowledge_lexemes to authenticated, service_role;

-- The ranking's impact index, derived from the weighted tsvector at ingest: for every chunk and
-- lexeme, that lexeme's ts_rank in the chunk ({D 0.4, C 0.2, B 0.7, A 1.0}, length-normalized).
-- Ranking with ts_rank at query time costs one call per candidate and term (measured: 40–150 ms
-- for 10,000 chunks when common words match thousands of chunks); reading each term's
-- highest-weighted postings from this index costs one index-only range scan per term, bounded.
-- Keyed by document (not chunk) so replacing a document deletes its postings through one index.
create table knowledge_postings (
  clinic_id    uuid not null references clinics(id) on delete cascade,
  document_id  uuid not null,
  chunk_id     bigint not null,
  lexeme       text not null,
  weight       real not null,
  foreign key (clinic_id, document_id) references knowledge_documents (clinic_id, id) on delete cascade
);
create index knowledge_postings_impact on knowledge_postings (clinic_id, lexeme, weight desc) include (chunk_id, document_id);
create index knowledge_postings_clinic_doc on knowledge_postings (clinic_id, document_id);
alter table knowledge_postings enable row level security;
alter table knowledge_postings force row level security;
create policy knowledge_postings_tenant on knowledge_postings for all to authenticated
  using (clinic_id = (select public.request_clinic_id())) with check (clinic_id = (select public.request_clinic_id()));
grant select, insert, update, delete on knowledge_postings to authenticated, service_role;

-- A clinic's own vocabulary on top of the built-in defaults (KnowledgeSynonyms.Defaults, kept in
-- code because rows without a clinic are not allowed under our RLS rules).
create table knowledge_synonyms (
  id          bigint generated always as identity primary key,
  clinic_id   uuid not null references clinics(id) on delete cascade,
  phrase      text not null check (length(phrase) between 1 and 100),
  expansion   text not null check (length(expansion) between 1 and 300),
  unique (clinic_id, phrase, expansion)
);
alter table knowledge_synonyms enable row level security;
alter table knowledge_synonyms force row level security;
create policy knowledge_synonyms_tenant on knowledge_synonyms for all to authenticated
  using (clinic_id = (select public.request_clinic_id())) with check (clinic_id = (select public.request_clinic_id()));
grant select, insert, update, delete on knowledge_synonyms to authenticated, service_role;

-- Search (ranking formula: KnowledgeStore.SearchSql and README "Knowledge base").
-- PL/pgSQL in two steps so the planner sees the real query: first the caller's words become a few
-- weighted lexemes (stems, clinic synonyms, spelling fixes, IDF), then each lexeme's best postings
-- are summed per chunk. SECURITY INVOKER (the default): row-level
-- security applies to every table it reads. jit = off: a short OLTP query never repays LLVM
-- compilation (measured: ~1 s of JIT on a 20 ms search over 10,000 chunks).
create or replace function public.knowledge_search(
  p_clinic uuid, p_words text[], p_boosts real[], p_padded text, p_synonym_boost real, p_k int, p_depth int default 100)
returns table (source text, title text, heading text, body text, score float8)
language plpgsql stable
set jit = off
set pg_trgm.similarity_threshold = 0.5
as $$
declare
  v_total float8;
  v_lex text[] := '{}';
  v_w float8[] := '{}';
  v_stem record;
  v_hit record;
  v_i int;
begin
  select coalesce(sum(d.chunks), 0) into v_total from knowledge_documents d where d.clinic_id = p_clinic;
  if v_total = 0 then return; end if;

  -- One small indexed lookup per stem: its document frequency, or (a misspelling) the nearest
  -- lexeme by trigram similarity through the GIN index.
  for v_stem in
    with input(word, boost) as (
      select * from unnest(p_words, p_boosts)
      union all
      select e.word, p_synonym_boost
      from knowledge_synonyms s cross join lateral regexp_split_to_table(s.expansion, ' ') e(word)
      where s.clinic_id = p_clinic and p_padded like '% ' || s.phrase || ' %'
    )
    select v.lexeme, max(i.boost)::float8 as boost
    from input i cross join lateral unnest(to_tsvector('english', i.word)) v
    group by v.lexeme
  loop
    select l.lexeme, l.df, 1.0::float8 as sim into v_hit
    from knowledge_lexemes l where l.clinic_id = p_clinic and l.lexeme = v_stem.lexeme;
    if not found then
      if length(v_stem.lexeme) < 4 then continue; end if;
      select l.lexeme, l.df, similarity(l.lexeme, v_stem.lexeme)::float8 as sim into v_hit
      from knowledge_lexemes l
      where l.clinic_id = p_clinic and l.lexeme % v_stem.lexeme
      order by 3 desc, l.df desc
      limit 1;
      if not found or v_hit.sim < 0.5 or v_hit.lexeme !~ '^[[:alnum:]]+$' then continue; end if;
    end if;
    v_i := array_position(v_lex, v_hit.lexeme);
    if v_i is null then
      v_lex := v_lex || v_hit.lexeme;
      v_w := v_w || (v_stem.boost * v_hit.sim * ln(1 + (v_total - v_hit.df + 0.5) / (v_hit.df + 0.5)));
    else
      v_w[v_i] := greatest(v_w[v_i], v_stem.boost * v_hit.sim * ln(1 + (v_total - v_hit.df + 0.5) / (v_hit.df + 0.5)));
    end if;
  end loop;
  if cardinality(v_lex) = 0 then return; end if;

  -- Each term contributes through its p_depth highest-weighted postings (impact-ordered pruning):
  -- exact for every term in at most p_depth chunks, and a common word's weakest matches, which
  -- could only add a little, are not read.
  return query
  with scored as (
    select p.chunk_id, p.document_id, sum(t.w * p.weight)::float8 as score
    from unnest(v_lex, v_w) t(lexeme, w)
    cross join lateral (
      select k.chunk_id, k.document_id, k.weight from knowledge_postings k
      where k.clinic_id = p_clinic and k.lexeme = t.lexeme
      order by k.weight desc
      limit p_depth
    ) p
    group by p.chunk_id, p.document_id
  ),
  best as (
    select b.chunk_id, b.score from (
      select s.chunk_id, s.score, row_number() over (partition by s.document_id order by s.score desc, s.chunk_id) as nth from scored s
    ) b
    where b.nth <= 2
    order by b.score desc, b.chunk_id
    limit p_k
  )
  select c.source, c.title, c.heading, c.body, best.score
  from best join knowledge_chunks c on c.id = best.chunk_id and c.clinic_id = p_clinic
  order by best.score desc, best.chunk_id;
end
$$;
grant execute on function public.knowledge_search(uuid, text[], real[], text, real, int, int) to authenticated, service_role;
