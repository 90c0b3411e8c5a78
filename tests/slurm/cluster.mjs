// tests/slurm/cluster.mjs — a real one-node Slurm cluster for the
// Slurm executor's tests, from Debian's slurm-wlm and munge packages: a munge
// key and munged, a generated slurm.conf naming this machine as controller and
// node (proctrack/linuxproc, task/none: no cgroups needed), slurmctld and slurmd
// in the foreground as children of the test, all state in one temporary folder.
//
// startCluster() resolves to {env, dir, conf, stop()} or throws with the reason
// Slurm could not start (missing packages, not root, a daemon that died, a node
// that never became idle): the caller's test then FAILS with it, never skips.
// Clients (sbatch, squeue, scancel) find the cluster through env.SLURM_CONF.
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { cpus, hostname, tmpdir } from 'node:os';
import { join } from 'node:path';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const SBIN = ['/usr/sbin', '/usr/bin', '/sbin', '/bin'];

function which(name) {
	for (const d of SBIN) if (existsSync(join(d, name))) return join(d, name);
	return null;
}

/* A port nobody listens on now (the daemons bind it a moment later). */
async function freePort() {
	return new Promise((res, rej) => {
		const s = net.createServer();
		s.on('error', rej);
		s.listen(0, '127.0.0.1', () => {
			const p = s.address().port;
			s.close(() => res(p));
		});
	});
}

function tail(path, n = 15) {
	try {
		return readFileSync(path, 'utf8').trim().split('\n').slice(-n).join('\n');
	} catch {
		return '(no log)';
	}
}

export async function startCluster({ killWait = 20 } = {}) {
	const missing = ['munged', 'slurmctld', 'slurmd', 'sbatch', 'squeue', 'scancel', 'scontrol', 'sinfo'].filter((b) => !which(b));
	if (missing.length)
		throw new Error(`Slurm cannot start: ${missing.join(', ')} not found (sh tests/deps.sh test installs slurm-wlm and munge)`);
	if (process.getuid() !== 0)
		throw new Error('Slurm cannot start: slurmd must run as root to start jobs (CI runs as root)');
	const dir = mkdtempSync(join(tmpdir(), 'tb-slurm-'));
	chmodSync(dir, 0o755); // munged wants every directory above its socket searchable
	for (const d of ['state', 'spool', 'log', 'run']) mkdirSync(join(dir, d), { mode: 0o755 });
	const key = join(dir, 'munge.key');
	writeFileSync(key, randomBytes(1024), { mode: 0o400 });
	const sock = join(dir, 'run', 'munge.sock');
	const node = execFileSync('hostname', ['-s'], { encoding: 'utf8' }).trim() || hostname();
	const [ctldPort, dPort] = [await freePort(), await freePort()];
	const conf = join(dir, 'slurm.conf');
	writeFileSync(conf, [
		'ClusterName=tbtest',
		`SlurmctldHost=${node}`,
		'SlurmUser=root',
		'SlurmdUser=root',
		'AuthType=auth/munge',
		`AuthInfo=socket=${sock}`,
		'CredType=cred/munge',
		`SlurmctldPort=${ctldPort}`,
		`SlurmdPort=${dPort}`,
		`StateSaveLocation=${join(dir, 'state')}`,
		`SlurmdSpoolDir=${join(dir, 'spool')}`,
		`SlurmctldPidFile=${join(dir, 'run', 'slurmctld.pid')}`,
		`SlurmdPidFile=${join(dir, 'run', 'slurmd.pid')}`,
		`SlurmctldLogFile=${join(dir, 'log', 'slurmctld.log')}`,
		`SlurmdLogFile=${join(dir, 'log', 'slurmd.log')}`,
		// No cgroups: containers and CI machines often have none to give.
		'ProctrackType=proctrack/linuxproc',
		'TaskPlugin=task/none',
		'JobAcctGatherType=jobacct_gather/none',
		'AccountingStorageType=accounting_storage/none',
		'JobCompType=jobcomp/none',
		'SchedulerType=sched/backfill',
		'SelectType=select/cons_tres',
		'SelectTypeParameters=CR_Core',
		'ReturnToService=2',
		'MpiDefault=none',
		// SIGTERM at a time limit or scancel, SIGKILL this much later: the worker checkpoints in between.
		`KillWait=${killWait}`,
		'OverTimeLimit=0',
		'MinJobAge=300',
		'InactiveLimit=0',
		'Waittime=0',
		`NodeName=${node} CPUs=${cpus().length} RealMemory=1000 State=UNKNOWN`,
		`PartitionName=debug Nodes=${node} Default=YES MaxTime=INFINITE State=UP`,
		'',
	].join('\n'));
	const env = { ...process.env, SLURM_CONF: conf };
	const procs = [];
	const daemon = (bin, args) => {
		const p = spawn(which(bin), args, { env, stdio: ['ignore', 'ignore', 'ignore'] });
		p.exitInfo = null;
		p.on('exit', (code, sig) => { p.exitInfo = `${bin} exited with ${code ?? sig}`; });
		procs.push(p);
		return p;
	};
	const cluster = { dir, conf, env, node };
	cluster.stop = async () => {
		// Jobs outlive slurmd (their slurmstepd does not stop with it): end them first.
		try {
			execFileSync('scancel', ['--user=root', '--full'], { env, stdio: 'ignore' });
			for (let i = 0; i < (killWait + 10) * 10; i++) {
				const left = execFileSync('squeue', ['-h', '-o', '%i'], { env, encoding: 'utf8' }).trim();
				if (!left) break;
				await sleep(100);
			}
		} catch { /* the controller is gone already: nothing more to ask it */ }
		for (const p of procs.reverse()) {
			if (p.exitInfo) continue;
			p.kill('SIGTERM');
			for (let i = 0; i < 50 && !p.exitInfo; i++) await sleep(100);
			if (!p.exitInfo) p.kill('SIGKILL');
		}
		// Jobs' processes were children of slurmd's slurmstepd; none outlive it.
		rmSync(dir, { recursive: true, force: true });
	};
	try {
		const munged = daemon('munged', ['-F', '--force', `--socket=${sock}`, `--key-file=${key}`,
			`--log-file=${join(dir, 'log', 'munged.log')}`, `--pid-file=${join(dir, 'run', 'munged.pid')}`,
			`--seed-file=${join(dir, 'state', 'munged.seed')}`]);
		for (let i = 0; i < 50 && !existsSync(sock); i++) await sleep(100);
		if (!existsSync(sock)) throw new Error(`munged did not start: ${munged.exitInfo || ''}\n${tail(join(dir, 'log', 'munged.log'))}`);
		const ctld = daemon('slurmctld', ['-D', '-f', conf]);
		const slurmd = daemon('slurmd', ['-D', '-f', conf]);
		let state = '';
		for (let i = 0; i < 300; i++) {
			for (const p of [ctld, slurmd]) if (p.exitInfo) throw new Error(p.exitInfo);
			try {
				state = execFileSync('sinfo', ['-h', '-o', '%T'], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
			} catch (e) {
				state = String(e.stderr || e.message).trim();
			}
			if (state === 'idle') return cluster;
			await sleep(100);
		}
		throw new Error(`the node did not become idle within 30 s (sinfo: ${state})`);
	} catch (e) {
		const logs = ['slurmctld', 'slurmd'].map((n) => `--- ${n}.log\n${tail(join(dir, 'log', n + '.log'))}`).join('\n');
		await cluster.stop();
		throw new Error(`Slurm cannot start: ${e.message}\n${logs}`);
	}
}

/* Run a Slurm client command against the cluster; its stdout. */
export function slurmCmd(cluster, cmd, args) {
	return execFileSync(cmd, args, { env: cluster.env, encoding: 'utf8' });
}
