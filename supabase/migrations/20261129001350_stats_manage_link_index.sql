-- Stats (issue 18): bookings.manageLink counts the bookings patients moved or cancelled through their
-- manage link. The manage page changes a booking in place (move_booking / cancel_booking), so no
-- booking carries a 'manage_link' source; the count is read from the audit trail's 'moved' and
-- 'cancelled' rows whose actor is the manage link (Stats/ClinicStats.cs). This partial index keeps that
-- count to those rows instead of a scan of the clinic's whole audit trail over the range.
create index if not exists audit_trail_manage_link_changes on audit_trail (clinic_id, at)
  where actor = 'manage_link' and entity = 'booking' and action in ('moved', 'cancelled');
