/*
 * Settings: a few keys of the daemon's own state that must outlive a
 * restart, such as whether the queue is paused.  They are written like
 * any other change, through the writer thread and in the transaction of
 * whatever store_write fn puts them, so a setting the API acknowledged is
 * durable; the daemon reads them on the loop thread at start.
 *
 * Values are text; what they mean is the caller's business.  Deleting a
 * key (value NULL) rather than storing a "false" keeps the table to the
 * settings that differ from their defaults.
 */
#include <errno.h>
#include <stdlib.h>

#include "store-int.h"

int
store_tx_setting_put(struct store_tx *tx, const char *key, const char *value)
{
	sqlite3_stmt *st;
	int rc;

	if (key == NULL)
		return -EINVAL;
	if (value == NULL)
		rc = store_stmt(tx->c, ST_SETTING_DELETE, "DELETE FROM settings"
				" WHERE key = ?1", &st);
	else
		rc = store_stmt(tx->c, ST_SETTING_PUT, "INSERT INTO settings"
				" (key, value) VALUES (?1, ?2)"
				" ON CONFLICT (key) DO UPDATE SET"
				" value = excluded.value", &st);
	if (rc < 0)
		return rc;
	store_bind_text(st, 1, key);
	if (value != NULL)
		store_bind_text(st, 2, value);
	return store_exec(st);
}

int
store_setting_get(struct store *s, const char *key, char **value)
{
	sqlite3_stmt *st;
	int rc;

	if (key == NULL)
		return -EINVAL;
	rc = store_stmt(&s->rd, ST_R_SETTING, "SELECT value FROM settings"
			" WHERE key = ?1", &st);
	if (rc < 0)
		return rc;
	store_bind_text(st, 1, key);
	if ((rc = store_step(st)) <= 0)
		return rc < 0 ? rc : -ENOENT;
	*value = store_col_text(st, 0);
	sqlite3_reset(st);
	return 0;
}
