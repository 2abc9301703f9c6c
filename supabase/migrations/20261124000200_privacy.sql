-- Privacy: where detected personal data goes (the seed's routing table), envelope encryption keys,
-- and sanitized transcripts. Every table is a clinic table under RLS.

-- One data key per patient, wrapped by the key-encryption key named in key_id (the "kms_ref").
-- Erasure destroys the wrapped key (crypto-shredding): ciphertexts anywhere, backups included,
-- become unreadable even with the master key.
create table patient_keys (
  clinic_id    uuid not null references clinics(id) on delete cascade,
  patient_id   uuid not null,
  key_id       text,
  wrapped_key  bytea,
  created_at   timestamptz not null default now(),
  rewrapped_at timestamptz,
  destroyed_at timestamptz,
  primary key (clinic_id, patient_id),
  foreign key (clinic_id, patient_id) references patients (clinic_id, id) on delete cascade,
  check ((wrapped_key is null) = (destroyed_at is not null))
);

-- Contact data: plain (the seed routes email, phone, address, name here), audited.
create table contacts (
  id          uuid primary key default gen_random_uuid(),
  clinic_id   uuid not null references clinics(id) on delete cascade,
  patient_id  uuid not null,
  kind        text not null check (kind in ('email', 'phone', 'address', 'name')),
  value       text not null,
  call_id     text,
  created_at  timestamptz not null default now(),
  foreign key (clinic_id, patient_id) references patients (clinic_id, id) on delete cascade
);
create index contacts_clinic_patient on contacts (clinic_id, patient_id);

-- Identifiers (SSN, NHS, NI, card numbers, dates of birth): AES-256-GCM under the patient's key.
create table secure_identifiers (
  id          uuid primary key,
  clinic_id   uuid not null references clinics(id) on delete cascade,
  patient_id  uuid not null,
  kind        text not null check (kind in ('ssn', 'nhs_number', 'ni_number', 'credit_card', 'date_of_birth')),
  ciphertext  bytea not null,
  call_id     text,
  encrypted_at timestamptz not null default now(),
  foreign key (clinic_id, patient_id) references patients (clinic_id, id) on delete cascade
);
create index secure_identifiers_clinic_patient on secure_identifiers (clinic_id, patient_id);

-- Medical history, allergies, medications: AES-256-GCM under the patient's key.
create table clinical_notes (
  id          uuid primary key,
  clinic_id   uuid not null references clinics(id) on delete cascade,
  patient_id  uuid not null,
  kind        text not null check (kind in ('medical', 'allergy', 'medication')),
  ciphertext  bytea not null,
  call_id     text,
  encrypted_at timestamptz not null default now(),
  foreign key (clinic_id, patient_id) references patients (clinic_id, id) on delete cascade
);
create index clinical_notes_clinic_patient on clinical_notes (clinic_id, patient_id);

-- The only form of a transcript stored outside the encrypted tables: placeholders and a summary.
create table public_transcripts (
  id                 uuid primary key default gen_random_uuid(),
  clinic_id          uuid not null references clinics(id) on delete cascade,
  patient_id         uuid,
  call_id            text,
  public_transcript  text not null,
  summary            text not null,
  created_at         timestamptz not null default now(),
  foreign key (clinic_id, patient_id) references patients (clinic_id, id) on delete set null (patient_id)
);
create index public_transcripts_clinic on public_transcripts (clinic_id, created_at);

alter table patient_keys enable row level security;
alter table patient_keys force row level security;
create policy patient_keys_tenant on patient_keys for all to authenticated
  using (clinic_id = (select public.request_clinic_id())) with check (clinic_id = (select public.request_clinic_id()));
alter table contacts enable row level security;
alter table contacts force row level security;
create policy contacts_tenant on contacts for all to authenticated
  using (clinic_id = (select public.request_clinic_id())) with check (clinic_id = (select public.request_clinic_id()));
alter table secure_identifiers enable row level security;
alter table secure_identifiers force row level security;
create policy secure_identifiers_tenant on secure_identifiers for all to authenticated
  using (clinic_id = (select public.request_clinic_id())) with check (clinic_id = (select public.request_clinic_id()));
alter table clinical_notes enable row level security;
alter table clinical_notes force row level security;
create policy clinical_notes_tenant on clinical_notes for all to authenticated
  using (clinic_id = (select public.request_clinic_id())) with check (clinic_id = (select public.request_clinic_id()));
alter table public_transcripts enable row level security;
alter table public_transcripts force row level security;
create policy public_transcripts_tenant on public_transcripts for all to authenticated
  using (clinic_id = (select public.request_clinic_id())) with check (clinic_id = (select public.request_clinic_id()));

grant select, insert, update, delete on patient_keys, contacts, secure_identifiers, clinical_notes, public_transcripts
  to authenticated, service_role;
