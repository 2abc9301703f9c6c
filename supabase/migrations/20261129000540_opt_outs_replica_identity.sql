-- sms_opt_outs lost its primary key to the hashed phone (…_personal_data.sql: the phone may be
-- null once sealed, so no unique index qualifies as a key). Citus moves shards by logical
-- replication, which needs a replica identity for the updates and deletes of such a table. Issue 16.
alter table sms_opt_outs replica identity full;
