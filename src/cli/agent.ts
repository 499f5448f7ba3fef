/** `portsync agent --config agent.yaml`: a build host of a distributed portsync, until SIGINT/SIGTERM. */
import { loadAgentConfig } from '../distributed/agentConfig.js';
import { defineCommand, type CommandContext } from './command.js';

export const agent = defineCommand({
  name: 'agent',
  summary: 'a build host: takes build jobs from the queue of a distributed portsync (--config agent.yaml)',
  options: {},
  description: `Runs a build host for a coordinator whose builds.yaml says executor: { kind: distributed }. --config names the agent's own file, agent.yaml (schema/agent.schema.json): the queue's Redis or Valkey server (redis, queue), this host's copy of the ports tree (portsTree), its workers, build base, distfiles and logs (paths), its sandbox backend, and the environment variable holding the token shared with the coordinator (tokenEnv, default PORTSYNC_AGENT_TOKEN).

Each job is refused unless this host's tree matches the coordinator's (the port's files and the framework's by CRC in worktree mode, HEAD at the commit in commit mode): the refusal is recorded as the build's error. Otherwise the agent downloads the dependency packages from the coordinator (each checked against its recorded SHA-256, cached by checksum), builds the port exactly as a local pass does, streams phases and log lines back, and uploads the package. The coordinator records everything (builds.host names this host) and publishes the package.

A killed agent's jobs go to another agent once their lock expires (lockTimeout). SIGINT or SIGTERM: the running builds are interrupted and their jobs put back in the queue for another agent; then exit 0.`,
  exits: [
    ['0', 'stopped by SIGINT or SIGTERM'],
    ['2', 'invalid agent.yaml, the token variable unset, or the queue unreachable'],
  ],
  examples: [['PORTSYNC_AGENT_TOKEN=… portsync agent --config /etc/portsync/agent.yaml', 'a build host']],
  run: runAgent,
});

async function runAgent(ctx: CommandContext): Promise<number> {
  const cfg = loadAgentConfig(ctx.configFile);
  const log = (line: string) => ctx.io.out(`[${new Date().toISOString().slice(11, 23)}] ${line}`);
  // BullMQ is loaded only by the command that needs it (help and completion load every command).
  const { startAgent } = await import('../distributed/agent.js');
  const handle = await startAgent(cfg, log);
  const onSignal = (sig: NodeJS.Signals) => {
    log(`${sig}: stopping — running builds are interrupted and go back to the queue`);
    void handle.stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await handle.done;
    log('stopped');
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
