-- audit_trail carried two indexes on (clinic_id, seq): the unique constraint and a descending copy
-- for newest-first reads. A b-tree reads as well backwards, so the copy only cost every audited
-- write (and every sealing update) one more index insertion. Issue 16.
drop index if exists audit_trail_clinic_seq;
