-- Procedures and who does them (issue 17): a procedure's consultation length and the practitioners
-- who consult for it. check_availability, book_appointment and the booking page offer only slots
-- that fit (Booking/ProcedureFit.cs); a procedure without these settings behaves as before.

-- consultation_minutes: a slot fits when it is at least this long (a booking is one slot; slots of
-- one practitioner are never joined). null: any slot length, as before.
-- practitioners_restricted: false (the default) → every practitioner of the clinic consults for the
-- procedure, as before; true → only those in procedure_practitioners, and none listed means nobody
-- consults for it (the voice agent says so and books nothing).
alter table clinic_procedures
  add column consultation_minutes int check (consultation_minutes between 5 and 480),
  add column practitioners_restricted boolean not null default false;

-- Who consults for a restricted procedure. Both references are composite, so a practitioner of
-- another clinic can never be listed (the API also checks, under RLS, and answers 400).
create table procedure_practitioners (
  clinic_id        uuid not null references clinics(id) on delete cascade,
  procedure_id     uuid not null,
  practitioner_id  uuid not null,
  primary key (clinic_id, procedure_id, practitioner_id),
  foreign key (clinic_id, procedure_id) references clinic_procedures (clinic_id, id) on delete cascade,
  foreign key (clinic_id, practitioner_id) references practitioners (clinic_id, id) on delete cascade
);
create index procedure_practitioners_practitioner on procedure_practitioners (clinic_id, practitioner_id);
alter table procedure_practitioners enable row level security;
alter table procedure_practitioners force row level security;
create policy procedure_practitioners_tenant on procedure_practitioners for all to authenticated
  using (clinic_id = (select public.request_clinic_id())) with check (clinic_id = (select public.request_clinic_id()));
-- The list is replaced as a whole (delete + insert), never updated in place.
revoke all on table procedure_practitioners from public, anon, authenticated, service_role;
grant select, insert, delete on table procedure_practitioners to authenticated, service_role;

-- The procedure a booking was made for (voice tool or booking page), so a later move keeps to the
-- procedure's practitioners and length. Deleting the procedure leaves the booking without one.
alter table bookings add column procedure_id uuid;
alter table bookings add constraint bookings_procedure
  foreign key (clinic_id, procedure_id) references clinic_procedures (clinic_id, id) on delete set null (procedure_id);
create index bookings_procedure on bookings (clinic_id, procedure_id) where procedure_id is not null;
