-- What the last flowmon before migrations (commit 116b0e1; the schema as of 2aa4ac7, "Secrets at rest and named
-- secrets") created on SQLite beyond the tables of first_release.sql: these statements are its sqlite_master rows
-- that the first release did not have, in creation order. Its whole schema (last_release.sql) is put together
-- from them and first_release.sql by tests/pre_alembic_scripts.py. Frozen, like first_release.sql.

CREATE TABLE webhook_endpoints (
	id VARCHAR(40) NOT NULL,
	url TEXT NOT NULL,
	description VARCHAR(500) NOT NULL,
	event_types TEXT NOT NULL,
	headers TEXT NOT NULL,
	auth TEXT,
	secret TEXT NOT NULL,
	previous_secret TEXT,
	previous_secret_expires_at DATETIME,
	enabled BOOLEAN NOT NULL,
	disabled_reason VARCHAR(500),
	disabled_at DATETIME,
	first_exhausted_at DATETIME,
	created_at DATETIME NOT NULL,
	updated_at DATETIME NOT NULL,
	PRIMARY KEY (id)
);

CREATE TABLE webhook_deliveries (
	id VARCHAR(40) NOT NULL,
	webhook_id VARCHAR(64) NOT NULL,
	source VARCHAR(16) NOT NULL,
	source_key VARCHAR(200),
	endpoint_id VARCHAR(40),
	event_type VARCHAR(64),
	execution_id VARCHAR(40),
	url TEXT NOT NULL,
	secret_url TEXT,
	method VARCHAR(8) NOT NULL,
	headers TEXT NOT NULL,
	secret_headers TEXT,
	auth TEXT,
	secret TEXT,
	body BLOB NOT NULL,
	status VARCHAR(16) NOT NULL,
	status_reason TEXT,
	attempt_trigger VARCHAR(16),
	attempts INTEGER NOT NULL,
	round_base INTEGER NOT NULL,
	max_attempts INTEGER NOT NULL,
	next_attempt_at DATETIME,
	lease_until DATETIME,
	last_status_code INTEGER,
	last_error TEXT,
	last_duration_ms FLOAT,
	created_at DATETIME NOT NULL,
	updated_at DATETIME NOT NULL,
	finished_at DATETIME,
	PRIMARY KEY (id)
);

CREATE INDEX ix_webhook_deliveries_created ON webhook_deliveries (created_at);

CREATE INDEX ix_webhook_deliveries_status_next ON webhook_deliveries (status, next_attempt_at);

CREATE UNIQUE INDEX ix_webhook_deliveries_source_key ON webhook_deliveries (source_key);

CREATE INDEX ix_webhook_deliveries_finished ON webhook_deliveries (finished_at);

CREATE INDEX ix_webhook_deliveries_endpoint_created ON webhook_deliveries (endpoint_id, created_at);

CREATE TABLE webhook_attempts (
	id INTEGER NOT NULL,
	delivery_id VARCHAR(40) NOT NULL,
	webhook_id VARCHAR(64) NOT NULL,
	endpoint_id VARCHAR(40),
	n INTEGER NOT NULL,
	"trigger" VARCHAR(16) NOT NULL,
	started_at DATETIME NOT NULL,
	ended_at DATETIME,
	duration_ms FLOAT,
	url TEXT NOT NULL,
	resolved_ip VARCHAR(64),
	request_headers TEXT NOT NULL,
	body_sha256 VARCHAR(64) NOT NULL,
	body_size INTEGER NOT NULL,
	status_code INTEGER,
	response_headers TEXT NOT NULL,
	response_body_prefix TEXT,
	error_class VARCHAR(32),
	error_message TEXT,
	retryable BOOLEAN NOT NULL,
	retry_after_s FLOAT,
	next_attempt_at DATETIME,
	planned_at DATETIME,
	PRIMARY KEY (id)
);

CREATE INDEX ix_webhook_attempts_delivery_n ON webhook_attempts (delivery_id, n);

CREATE TABLE webhook_inbound (
	workflow_id VARCHAR(64) NOT NULL,
	webhook_id VARCHAR(256) NOT NULL,
	execution_id VARCHAR(40) NOT NULL,
	received_at DATETIME NOT NULL,
	PRIMARY KEY (workflow_id, webhook_id)
);

CREATE INDEX ix_webhook_inbound_received ON webhook_inbound (received_at);

CREATE TABLE workflow_automation (
	workflow_id VARCHAR(64) NOT NULL,
	trigger_secret TEXT,
	previous_trigger_secret TEXT,
	previous_trigger_secret_expires_at DATETIME,
	schedule_paused BOOLEAN NOT NULL,
	updated_at DATETIME NOT NULL,
	PRIMARY KEY (workflow_id)
);

CREATE INDEX ix_executions_finished ON executions (finished_at);

CREATE TABLE secrets (
	name VARCHAR(64) NOT NULL,
	value TEXT NOT NULL,
	created_at DATETIME NOT NULL,
	updated_at DATETIME NOT NULL,
	PRIMARY KEY (name)
);
