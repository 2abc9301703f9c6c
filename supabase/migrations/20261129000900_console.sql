-- Staff console (issue 19): staff accounts per clinic, signed in with a password and an optional
-- TOTP second factor. The console's pages run in the same tenant transactions as the API; this
-- table is the only new state (sessions are signed cookies checked against session_generation).

create table staff_accounts (
  id                    uuid not null default gen_random_uuid(),
  clinic_id             uuid not null references clinics(id) on delete cascade,
  -- Stored lower-cased so sign-in finds it by equality. Staff personal data (not patients'):
  -- plain because sign-in looks it up; removed with the account or the clinic.
  email                 text not null check (length(email) between 3 and 254 and email = lower(email)),
  display_name          text not null check (length(display_name) between 1 and 200),
  role                  text not null check (role in ('admin', 'receptionist', 'doctor')),
  -- ASP.NET Core Identity's PasswordHasher format (PBKDF2, versioned, salted).
  password_hash         text not null check (length(password_hash) between 20 and 1000),
  -- A one-time password from `-- staff add` or an admin's invitation must be replaced at first sign-in.
  must_change_password  boolean not null default true,
  -- Lockout: the counter and the lock are decided by conditional updates, so two wrong guesses
  -- racing each other both count.
  failed_attempts       int not null default 0 check (failed_attempts >= 0),
  locked_until          timestamptz,
  -- TOTP (RFC 6238): the shared secret wrapped by the key-encryption key (FRONTDESK_MASTER_KEY),
  -- bound to clinic and account by the associated data; totp_key_id names the wrapping key.
  totp_secret           bytea,
  totp_key_id           text,
  -- An enrolment in progress: becomes totp_secret once a code from it verifies.
  totp_pending          bytea,
  totp_pending_key_id   text,
  -- The last time step accepted: a code is never accepted twice (replay within its 30 s window).
  totp_last_step        bigint,
  -- Every session cookie carries the generation it was issued under; bumping it signs the account
  -- out everywhere (sign-out-everywhere, password change, disabling).
  session_generation    int not null default 1,
  disabled_at           timestamptz,
  last_sign_in_at       timestamptz,
  created_by            text not null check (length(created_by) between 1 and 200),
  created_at            timestamptz not null default now(),
  updated_at            timestamptz not null default now(),
  primary key (clinic_id, id),
  unique (clinic_id, email),
  check ((totp_secret is null) = (totp_key_id is null)),
  check ((totp_pending is null) = (totp_pending_key_id is null))
);
-- Sign-in finds an email's accounts before any clinic is known (SystemPath.ConsoleSignIn).
create index staff_accounts_email on staff_accounts (email);

alter table staff_accounts enable row level security;
alter table staff_accounts force row level security;
create policy staff_accounts_tenant on staff_accounts for all to authenticated
  using (clinic_id = (select public.request_clinic_id()))
  with check (clinic_id = (select public.request_clinic_id()));

revoke all on table staff_accounts from public, anon, authenticated, service_role;
-- No DELETE for the application: an account is disabled (its sessions end, the audit trail keeps
-- naming it); rows go with their clinic.
grant select, insert, update on table staff_accounts to authenticated, service_role;
