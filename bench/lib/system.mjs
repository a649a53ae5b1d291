// What the benchmark knows about processes and the machine, read from /proc
// (Linux); elsewhere CPU and memory figures are reported as null.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

/**
 * CPU seconds (user + system) a process has used so far, or null: from the
 * clock-tick counters of /proc/<pid>/stat, which count in 10 ms steps (at a
 * few percent of a core over a few seconds, a step is several percent of
 * the figure). `cpuClock` is the precise measure.
 */
function tickSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return null;
  }
}

/**
 * Nanoseconds on a CPU so far per thread of a process (/proc/<pid>/task/<tid>/schedstat,
 * which the scheduler keeps exactly), or null where the kernel has no schedstat.
 */
function threadClocks(pid) {
  try {
    const clocks = new Map();
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        clocks.set(tid, Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]));
      } catch {
        // The thread ended while the list was read.
      }
    }
    return clocks.size > 0 ? clocks : null;
  } catch {
    return null;
  }
}

/**
 * A process's CPU clock: `since()` is the CPU seconds used since it was read,
 * over all its threads (a thread that ended in between takes its share with it),
 * to the nanosecond where schedstat exists, otherwise in clock ticks.
 */
export function cpuClock(pid) {
  const start = threadClocks(pid);
  const ticks = tickSeconds(pid);
  return {
    since() {
      const now = start && threadClocks(pid);
      if (!now) return (tickSeconds(pid) ?? NaN) - (ticks ?? NaN);
      let ns = 0;
      for (const [tid, clock] of now) ns += clock - (start.get(tid) ?? 0);
      return ns / 1e9;
    },
  };
}

/** Seconds the process's main thread has spent runnable but waiting for a CPU, or null. */
export function runQueueSeconds(pid) {
  try {
    return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[1]) / 1e9;
  } catch {
    return null;
  }
}

/** Resident set size and its peak (high-water mark), in bytes, or nulls. */
export function memory(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
    return { rss: kb('VmRSS'), peakRss: kb('VmHWM') };
  } catch {
    return { rss: null, peakRss: null };
  }
}

/** Measures CPU share and RSS of some processes over an interval: `const m = meter(pids); …; m.stop()`. */
export function meter(pids) {
  const start = performance.now();
  const cpu0 = pids.map(cpuClock);
  const wait0 = pids.map(runQueueSeconds);
  let peakRss = 0;
  const sample = () => {
    const total = pids.reduce((sum, pid) => sum + (memory(pid).rss ?? 0), 0);
    peakRss = Math.max(peakRss, total);
  };
  sample();
  const timer = setInterval(sample, 100);
  return {
    stop() {
      clearInterval(timer);
      sample();
      const seconds = (performance.now() - start) / 1000;
      const cpu = cpu0.reduce((sum, clock) => sum + clock.since(), 0);
      const wait = pids.reduce((sum, pid, i) => sum + ((runQueueSeconds(pid) ?? NaN) - (wait0[i] ?? NaN)), 0);
      const rss = pids.reduce((sum, pid) => sum + (memory(pid).rss ?? 0), 0);
      return {
        cpuPercent: Number.isFinite(cpu) ? (100 * cpu) / seconds : null,
        cpuSeconds: cpu,
        // Time it was ready to run while something else had its core: other load on the machine.
        waitPercent: Number.isFinite(wait) ? (100 * wait) / seconds : null,
        rss,
        peakRss,
        seconds,
      };
    },
  };
}

export function hasTaskset() {
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' });
    return os.platform() === 'linux' && os.availableParallelism() >= 2;
  } catch {
    return false;
  }
}

/** The machine a result was measured on. */
export function machine() {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: os.availableParallelism(),
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    date: new Date().toISOString(),
    loadAverage: os.loadavg().map((load) => Number(load.toFixed(2))),
    pinned: hasTaskset(),
  };
}
