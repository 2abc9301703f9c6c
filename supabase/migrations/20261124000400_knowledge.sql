-- Knowledge base (issue 6): documents a clinic uploads, split into chunks that are searched with
-- PostgreSQL full-text search. pgvector is not available, so optional embeddings are a float4[]
-- and vector similarity is computed in the application over the lexical candidates.

create extension if not exists pg_trgm;

create table knowledge_documents (
  id          uuid primary key default gen_random_uuid(),
  clinic_id   uuid not null references clinics(id) on delete cascade,
  source      text not null check (length(source) between 1 and 500),
  title       text not null check (length(title) between 1 and 300),
  bytes       int not null,
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
create index knowledge_chunks_tsv on knowledge_chunks using gin (tsv);
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
create index knowledge_lexemes_trgm on knowledge_lexemes using gin (lexeme gin_trgm_ops);
alter table knowledge_lexemes enable row level security;
alter table knowledge_lexemes force row level security;
create policy knowledge_lexemes_tenant on knowledge_lexemes for all to authenticated
  using (clinic_id = (select public.request_clinic_id())) with check (clinic_id = (select public.request_clinic_id()));
grant select, insert, update, delete on knowledge_lexemes to authenticated, service_role;

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
