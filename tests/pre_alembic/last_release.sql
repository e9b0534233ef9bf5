-- The schema that the last flowmon before migrations (commit 116b0e1; the schema as of 2aa4ac7, "Secrets at rest and named secrets") made on SQLite:
-- Database.start() ran SQLModel.metadata.create_all on an empty file; this is its sqlite_master, in creation
-- order. Frozen: it is what databases made before Alembic look like, whatever the table classes say today.

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

CREATE TABLE workflows (
	id VARCHAR(64) NOT NULL,
	name VARCHAR(200) NOT NULL,
	definition TEXT NOT NULL,
	created_at DATETIME NOT NULL,
	updated_at DATETIME NOT NULL,
	PRIMARY KEY (id)
);

CREATE TABLE executions (
	id VARCHAR(40) NOT NULL,
	workflow_id VARCHAR(64) NOT NULL,
	status VARCHAR(16) NOT NULL,
	priority INTEGER NOT NULL,
	input TEXT,
	output TEXT,
	error TEXT,
	created_at DATETIME NOT NULL,
	started_at DATETIME,
	finished_at DATETIME,
	duration_ms FLOAT,
	retry_of VARCHAR(40),
	nodes_done INTEGER NOT NULL,
	nodes_total INTEGER NOT NULL,
	last_seq INTEGER NOT NULL,
	imported_from VARCHAR(40),
	PRIMARY KEY (id)
);

CREATE INDEX ix_executions_workflow_created ON executions (workflow_id, created_at);

CREATE INDEX ix_executions_status_created ON executions (status, created_at);

CREATE INDEX ix_executions_created ON executions (created_at);

CREATE INDEX ix_executions_finished ON executions (finished_at);

CREATE TABLE node_runs (
	execution_id VARCHAR(40) NOT NULL,
	node_id VARCHAR(64) NOT NULL,
	status VARCHAR(16) NOT NULL,
	attempts INTEGER NOT NULL,
	started_at DATETIME,
	finished_at DATETIME,
	duration_ms FLOAT,
	reused BOOLEAN NOT NULL,
	error TEXT,
	PRIMARY KEY (execution_id, node_id)
);

CREATE TABLE events (
	execution_id VARCHAR(40) NOT NULL,
	seq INTEGER NOT NULL,
	ts DATETIME NOT NULL,
	type VARCHAR(32) NOT NULL,
	node_id VARCHAR(64),
	data TEXT NOT NULL,
	PRIMARY KEY (execution_id, seq)
);

CREATE TABLE secrets (
	name VARCHAR(64) NOT NULL,
	value TEXT NOT NULL,
	created_at DATETIME NOT NULL,
	updated_at DATETIME NOT NULL,
	PRIMARY KEY (name)
);
