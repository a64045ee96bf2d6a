// BullMQ + Redis writing a cascadian run's PostgreSQL rows for each job: the seed
// app's plan ("migrate to BullMQ + Redis"), driven by bench/peer_bullmq.py, which
// copies this file next to bullmq and pg installed from npm in a temporary folder.
//
//   node bullmq_peer.js setup REDIS_PORT PG_URL            queue one job per due strategy
//   node bullmq_peer.js work REDIS_PORT PG_URL BATCH MODE  drain the queue
//
// A worker is BullMQ's Worker with concurrency = BATCH (its docs' way to run many
// I/O-bound jobs at once in one process). Each job writes what a cascadian run
// writes, as of migration 051: its strategy's counters and next slot (one update of
// the workflow_sessions row) and its workflow_executions row (inserted once,
// completed, with the graph's snapshot and the node logs as one jsonb value). MODE
// job: one statement per job, from a pool of 10 connections (node-postgres's
// default). MODE batch: the jobs finished while a statement is in flight are written
// by the next one together (group commit), so the writes are as wide as cascadian's.
'use strict';
const { randomUUID } = require('node:crypto');
const { Queue, Worker } = require('bullmq');
const { Pool } = require('pg');

const QUEUE = 'cascadian-noop';
const POOL_SIZE = 10;

const ROWS = `
with j as (
    select x.*, a.ord
    from jsonb_array_elements($1::jsonb) with ordinality as a (value, ord)
    cross join lateral jsonb_to_record(a.value) as x (
        sid uuid, eid uuid, started timestamptz, finished timestamptz, logs jsonb
    )
),
cur as (
    select j.*, w.user_id, w.next_execution_at as slot,
           coalesce(w.execution_count, 0) as n,
           jsonb_build_object(
               'name', w.name, 'nodes', w.nodes, 'edges', w.edges,
               'variables', w.variables, 'trigger', w.trigger, 'version', w.version
           ) as snapshot
    from j join workflow_sessions w on w.id = j.sid
    for update of w
),
sessions as (
    update workflow_sessions w
    set last_executed_at = c.finished,
        execution_count = c.n + 1,
        success_count = coalesce(w.success_count, 0) + 1,
        error_count = 0,
        average_execution_time_ms = case
            when w.average_execution_time_ms is null or c.n = 0 then 1
            else round((w.average_execution_time_ms::numeric * c.n + 1) / (c.n + 1))::integer
        end,
        next_execution_at = c.slot + make_interval(
            mins => coalesce(w.execution_interval_minutes, 5)
        ),
        updated_at = now()
    from cur c
    where w.id = c.sid
    returning w.id
)
insert into workflow_executions (
    id, workflow_id, user_id, execution_started_at, execution_completed_at, status,
    trigger_kind, scheduled_for, attempt, workflow_snapshot, duration_ms,
    nodes_executed, outputs, errors, node_logs
)
select c.eid, c.sid, c.user_id, c.started, c.finished, 'completed', 'scheduled',
       c.slot, 1, c.snapshot, 1, 2, '{"end": {}}', '[]', c.logs
from cur c
order by c.ord
`;

function redis(port) {
  return { host: '127.0.0.1', port: Number(port), maxRetriesPerRequest: null };
}

function run(job, started) {
  const now = new Date().toISOString();
  const log = (id) => ({
    node_id: id, node_type: id, status: 'success', started_at: now, completed_at: now,
    duration_ms: 0, error_message: null, output: {},
  });
  return { sid: job.data.sid, eid: randomUUID(), started, finished: now, logs: [log('start'), log('end')] };
}

async function setup(port, url) {
  const pool = new Pool({ connectionString: url, max: 1 });
  const { rows } = await pool.query(
    'select id from workflow_sessions where auto_run order by next_execution_at'
  );
  await pool.end();
  const queue = new Queue(QUEUE, { connection: redis(port) });
  await queue.obliterate({ force: true });
  for (let i = 0; i < rows.length; i += 1000) {
    await queue.addBulk(rows.slice(i, i + 1000).map((r) => ({
      name: 'run', data: { sid: r.id }, opts: { removeOnComplete: true, removeOnFail: true },
    })));
  }
  await queue.close();
  process.stdout.write(JSON.stringify({ jobs: rows.length }) + '\n');
}

async function work(port, url, batch, mode) {
  const pool = new Pool({ connectionString: url, max: POOL_SIZE });
  let runs = 0;
  let last = 0;
  const write = async (items) => {
    await pool.query(ROWS, [JSON.stringify(items)]);
    runs += items.length;
    last = Date.now() / 1000;
  };
  // Group commit: one statement in flight; what finishes meanwhile waits for the next.
  let pending = [];
  let inFlight = false;
  const flush = async () => {
    inFlight = true;
    while (pending.length > 0) {
      const group = pending;
      pending = [];
      try {
        await write(group.map((p) => p.item));
        for (const p of group) p.resolve();
      } catch (e) {
        for (const p of group) p.reject(e);
      }
    }
    inFlight = false;
  };
  const grouped = (item) => new Promise((resolve, reject) => {
    pending.push({ item, resolve, reject });
    if (!inFlight) setImmediate(flush);
  });
  const processor = async (job) => {
    const item = run(job, new Date().toISOString());
    if (mode === 'batch') await grouped(item);
    else await write([item]);
  };
  const worker = new Worker(QUEUE, processor, {
    connection: redis(port), concurrency: batch, autorun: false,
  });
  let failed = null;
  worker.on('failed', (_job, e) => { failed = e; });
  worker.on('error', (e) => { console.error(e); process.exit(2); });
  await worker.waitUntilReady();
  const clients = await Promise.all(Array.from({ length: POOL_SIZE }, () => pool.connect()));
  for (const c of clients) c.release();
  // Connected: wait for the go, so every process starts together.
  process.stdout.write('ready\n');
  await new Promise((resolve) => process.stdin.once('data', resolve));
  const start = Date.now() / 1000;
  const drained = new Promise((resolve) => worker.once('drained', resolve));
  const running = worker.run();
  await drained;
  await worker.close(); // waits for the jobs still in flight
  await running;
  await pool.end();
  if (failed) throw failed;
  process.stdout.write(JSON.stringify({ runs, start, end: last || start }) + '\n');
}

const [mode, port, url, batch, writes] = process.argv.slice(2);
(mode === 'setup' ? setup(port, url) : work(port, url, Number(batch), writes))
  .catch((e) => { console.error(e); process.exit(1); });
