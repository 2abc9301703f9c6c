-- Never lose, never duplicate (issue 15).
-- Retries are bounded by usefulness, not by a count: a job remembers when it first became due, and
-- its handler gives up only when the kind's window (configuration) has passed since then. Every row
-- that describes a message says how it ended, and what needs a person is marked for review.
-- No new tables: existing tables keep their RLS, policies and grants; constraints below are widened.

-- Outbox ------------------------------------------------------------------------------------------
-- due_at: when the job first became due (after quiet hours at enqueue). Deadlines count from it.
alter table outbox add column due_at timestamptz;
update outbox set due_at = least(created_at, next_attempt_at) where due_at is null;
alter table outbox alter column due_at set default now();
alter table outbox alter column due_at set not null;
-- 'cancelled': a person cancelled it from the review queue.
alter table outbox drop constraint if exists outbox_status_check;
alter table outbox add constraint outbox_status_check
  check (status in ('pending', 'processing', 'done', 'failed', 'review', 'cancelled'));
-- The review queue and the health counts read terminal rows that still need a person.
create index outbox_attention on outbox (clinic_id, updated_at) where status in ('failed', 'review');

-- Outgoing SMS ------------------------------------------------------------------------------------
-- purpose decides the usefulness window and whether quiet hours apply at send time
-- (followup, reminder: yes; confirmation: the patient is on the page waiting for it).
alter table sms_messages add column purpose text not null default 'message'
  check (purpose in ('followup', 'confirmation', 'reminder', 'message'));
update sms_messages set purpose = 'followup' where followup_id is not null;
-- When the last request to Twilio started: reconciliation looks for messages created after it.
alter table sms_messages add column attempt_started_at timestamptz;
-- A person's decision from the review queue (staff subject, not patient data).
alter table sms_messages add column reviewed_at timestamptz;
alter table sms_messages add column reviewed_by text check (length(reviewed_by) <= 200);
create index sms_messages_attention on sms_messages (clinic_id, updated_at)
  where status in ('failed', 'review', 'unknown', 'sending') and reviewed_at is null;

-- Follow-ups say what happened to their message: review (a person decides) and cancelled too.
alter table lead_followups drop constraint if exists lead_followups_status_check;
alter table lead_followups add constraint lead_followups_status_check
  check (status in ('queued', 'sent', 'failed', 'review', 'cancelled'));

-- Calendar jobs: when the current run of failures began; the worker gives up after its window.
alter table calendar_jobs add column failing_since timestamptz;

-- Spelled out per table for the migration checker (idempotent):
alter table outbox force row level security;
alter table sms_messages force row level security;
alter table lead_followups force row level security;
alter table calendar_jobs force row level security;
