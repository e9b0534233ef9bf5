-- The schema that the first version of flowmon (commit df346c1, "Project skeleton, asyncio engine, reducer, bus, store and recorder") made on SQLite:
-- Database.start() ran SQLModel.metadata.create_all on an empty file; this is its sqlite_master, in creation
-- order. Frozen: it is what databases made before Alembic look like, whatever the table classes say today.

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
	PRIMARY KEY (id)
);

CREATE INDEX ix_executions_created ON executions (created_at);

CREATE INDEX ix_executions_workflow_created ON executions (workflow_id, created_at);

CREATE INDEX ix_executions_status_created ON executions (status, created_at);

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
