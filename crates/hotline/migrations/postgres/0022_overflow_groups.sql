-- Overflow groups (issue 16): a connection may spread its dialogs over several backend
-- groups, each with Telegram's 20 messages a minute. The group a dialog's topic lives in,
-- chosen when the dialog opens and kept for good (sticky per contact: one dialog per
-- contact); NULL = the connection's primary `group_id`.
ALTER TABLE dialogs ADD COLUMN group_id BIGINT;
-- Thread ids repeat across groups: a topic is unique per (connection, group, thread).
DROP INDEX dialogs_thread;
CREATE UNIQUE INDEX dialogs_thread ON dialogs (connection_id, COALESCE(group_id, 0), thread_id);
