-- The patient's booking page behind the SMS link (BookingPage/): where the clinic is and how to
-- reach it, and which booking a lead turned into. No new tables.

-- What the page and the confirmation SMS show; both optional.
alter table clinics
  add column address text check (length(address) between 1 and 500),
  add column phone   text check (length(phone) between 1 and 40);   -- E.164 or as the clinic writes it

-- A lead is converted when the patient books through its link; a cancellation through the page
-- clears both columns again (the audit trail keeps the history).
alter table leads
  add column converted_booking_id uuid,
  add column converted_at         timestamptz,
  add constraint leads_converted_both check ((converted_booking_id is null) = (converted_at is null)),
  -- NO ACTION, like bookings' own keys: deleting a clinic removes its leads and bookings in one
  -- cascade, checked at the end of that statement.
  add constraint leads_converted_booking foreign key (clinic_id, converted_booking_id)
    references bookings (clinic_id, id);
