/** Response shapes of the /v1/tasks routes, shared by the API and the typed client. */
import { z } from 'zod';

export const allocationSchema = z.object({
  id: z.string(),
  node: z.string(),
  node_name: z.string(),
  desired: z.enum(['run', 'stop']),
  reason: z.string(),
  replaces: z.string().nullable(),
  state: z.enum(['pending', 'running', 'exited', 'failed', 'lost', 'stopped']),
  pid: z.number().nullable(),
  exit_code: z.number().nullable(),
  signal: z.string().nullable(),
  restarts: z.number(),
  message: z.string(),
  /** ISO time of the last state report, null before the first. */
  since: z.string().nullable(),
});
export type AllocationResponse = z.output<typeof allocationSchema>;

export const nodeExplanationSchema = z.object({
  id: z.string(),
  name: z.string(),
  chosen: z.boolean(),
  feasible: z.boolean(),
  reasons: z.array(z.string()),
  rank: z.number().nullable(),
});

export const explanationSchema = z.object({
  at_ms: z.number(),
  wanted: z.number(),
  placed: z.number(),
  nodes: z.array(nodeExplanationSchema),
});

export const taskSpecSchema = z.object({
  name: z.string(),
  command: z.array(z.string()),
  env: z.record(z.string(), z.string()),
  count: z.number(),
  constraints: z.object({ labels: z.array(z.string()), device_classes: z.array(z.string()) }),
  restart: z.enum(['always', 'on-failure', 'never']),
  backoff_ms: z.number(),
  backoff_max_ms: z.number(),
  max_restarts: z.number(),
  energy: z.enum(['any', 'mains-only', 'prefer-mains']),
  power_w: z.number(),
  kill_timeout_s: z.number(),
});

export const taskStatusSchema = z.object({
  name: z.string(),
  desired: z.enum(['run', 'stop']),
  spec: taskSpecSchema,
  submitted: z.string(),
  running: z.number(),
  allocations: z.array(allocationSchema),
  explanation: explanationSchema.nullable(),
});
export type TaskStatusResponse = z.output<typeof taskStatusSchema>;

export const taskListSchema = z.object({ tasks: z.array(taskStatusSchema) });
export type TaskListResponse = z.output<typeof taskListSchema>;

export const taskLogsSchema = z.object({
  task: z.string(),
  alloc: z.string(),
  node: z.string(),
  node_name: z.string(),
  data: z.string(),
  next_offset: z.number(),
  size: z.number(),
});
export type TaskLogsResponse = z.output<typeof taskLogsSchema>;

/** The last event of `GET /v1/tasks/{name}/logs?follow=true`: the allocation ended and its log was read to the end. */
export const taskLogEndSchema = z.object({
  task: z.string(),
  alloc: z.string(),
  /** The allocation's terminal state; `gone` when its task or allocation no longer exists. */
  state: z.enum(['exited', 'failed', 'lost', 'stopped', 'gone']),
  exit_code: z.number().nullable(),
  signal: z.string().nullable(),
});
export type TaskLogEndResponse = z.output<typeof taskLogEndSchema>;
