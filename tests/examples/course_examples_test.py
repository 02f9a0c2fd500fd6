#!/usr/bin/env python3
"""The course's examples (examples/course/): runs each program with a
timeout and checks that its output shows what it demonstrates. The
strategy checks compare the pids the program printed before and after the
crash themselves, so a program built with another strategy fails them.

Usage: course_examples_test.py BIN_DIR [EXAMPLE...]  (all of them by default)"""
import os
import re
import subprocess
import sys

TIMEOUT_S = 60  # a sanitizer build is slow; each program runs well under 1 s


class Failure(Exception):
    pass


def expect(cond, what):
    if not cond:
        raise Failure(what)


def line_value(out, label):
    """The text after "label: " on the line that starts with it."""
    m = re.search(r"^%s: (.*)$" % re.escape(label), out, re.M)
    expect(m, "no line %r" % label)
    return m.group(1)


def pid_after(out, text):
    """The pid on the line that reads "text <0.N.G>"."""
    m = re.search(r"^%s (<[0-9.]+>)$" % re.escape(text), out, re.M)
    expect(m, "no line %r with a pid" % text)
    return m.group(1)


def tree(out, title):
    """{id: pid} from the table printed under the line title."""
    lines = out.splitlines()
    expect(title in lines, "no %r table" % title)
    table = {}
    for line in lines[lines.index(title) + 1:]:
        m = re.match(r"  (\S+) +(<[0-9.]+>)", line)
        if not m:
            break
        table[m.group(1)] = m.group(2)
    expect(table, "an empty %r table" % title)
    return table


def restarted(out, strategy):
    """The ids whose pid changed across the crash, in start order."""
    before = tree(out, "%s, before the crash:" % strategy)
    after = tree(out, "after the restart:")
    expect(list(before) == list(after), "children %s, then %s" % (list(before), list(after)))
    return [i for i in before if before[i] != after[i]]


def one_for_one_request_workers(out):
    # Only the crashed worker restarts; the others keep what they served.
    changed = restarted(out, "one_for_one")
    expect(changed == ["request_2"], "restarted %s, not only request_2" % changed)
    served = re.findall(r"^  (request_\d) has served (\d+) requests$", out, re.M)
    expect(served[3:] == [("request_1", "2"), ("request_2", "0"), ("request_3", "2")],
           "served after the crash: %s" % served[3:])


def one_for_all_database_cluster(out):
    # One node's crash restarts every node, so the replicas agree again.
    changed = restarted(out, "one_for_all")
    expect(changed == ["node_1", "node_2", "node_3"], "restarted %s, not every node" % changed)
    verdicts = re.findall(r"^replicas (.*)$", out, re.M)
    expect(verdicts == ["consistent", "consistent"], "replicas: %s" % verdicts)


def rest_for_one_pipeline(out):
    # The crashed stage and the ones after it restart; the cache does not.
    changed = restarted(out, "rest_for_one")
    expect(changed == ["stage1", "stage2"], "restarted %s, not stage1 and stage2" % changed)
    expect(out.rstrip().endswith("every stage reads from a live stage"),
           "a stage reads from a dead one after the restart")


def queue_restarted(out, started, after):
    """The queue held `started`, was killed, and came back under a new pid
    holding `after`."""
    expect(line_value(out, "queue") == started, "the queue started as %s" % line_value(out, "queue"))
    old = pid_after(out, "SimpleQueue started as")
    new = pid_after(out, "SimpleQueue restarted as")
    expect(old != new, "the restarted queue has the old pid %s" % old)
    got = line_value(out, "queue after the restart")
    expect(got == after, "the restarted queue holds %s, not %s" % (got, after))


def simple_queue_application(out):
    # children = [SimpleQueue]: empty at the start and after the restart.
    expect(line_value(out, "after enqueue 4, 5, 6") == "[4, 5, 6]", "enqueue failed")
    queue_restarted(out, "[]", "[]")


def simple_queue_application_with_args(out):
    # {SimpleQueue, [1, 2, 3]}: restarted "as if nothing had happened".
    expect(line_value(out, "dequeue") == "1", "dequeue did not give 1")
    expect(line_value(out, "after dequeue and enqueue 4") == "[2, 3, 4]", "enqueue failed")
    queue_restarted(out, "[1, 2, 3]", "[1, 2, 3]")


def simple_queue_dynamic_supervisor(out):
    # No children at the start, SimpleQueue added at run time and restarted.
    counts = re.findall(r"^count_children: specs (\d+), active (\d+)", out, re.M)
    expect(counts == [("0", "0"), ("1", "1"), ("1", "1")], "count_children: %s" % counts)
    expect(line_value(out, "a second start_child").endswith("(already_started)"),
           "a second SimpleQueue was not refused")
    old = pid_after(out, "start_child: ok, SimpleQueue is")
    expect(pid_after(out, "SimpleQueue restarted as") != old, "not restarted")
    expect(line_value(out, "queue after the restart") == "[]", "the restarted queue is not empty")


def send_emails_task(out):
    # The job ran under the Task.Supervisor, temporary: forgotten once done.
    sent = re.findall(r"^send_emails: notification sent to (\S+)$", out, re.M)
    expect(len(sent) == 3, "e-mails sent: %s" % sent)
    expect(re.search(r"^the job reports 3 e-mails sent$", out, re.M), "no report from the job")
    expect(line_value(out, "tasks running after the job ended") == "0", "the task is still there")


def task_supervisor_transient(out):
    # Transient: restarted after its crash, not after its normal end.
    attempts = re.findall(r"^background_work attempt (\d+): (\w+)", out, re.M)
    expect(attempts == [("1", "crashed"), ("2", "done")], "attempts: %s" % attempts)
    expect(line_value(out, "tasks running after background_work ended normally") == "0",
           "the task was started again after it ended normally")
    expect(line_value(out, "attempts") == "2", "attempts: %s" % line_value(out, "attempts"))


def chat_app_dynamic_supervisor(out):
    # Handlers added at run time; a killed one comes back for its user alone.
    before = tree(out, "handlers, before the crash:")
    after = tree(out, "handlers, after the restart:")
    expect(list(before) == ["alice", "bob", "carol"] == list(after), "users: %s" % list(after))
    changed = [u for u in before if before[u] != after[u]]
    expect(changed == ["bob"], "handlers restarted: %s, not only bob's" % changed)


def support_system_tickets(out):
    # create_ticket, then :assign_agent and :resolve change the ticket's status.
    expect(re.search(r"^create_ticket -> \{:ok, <[0-9.]+>\}$", out, re.M), "no ticket created")
    statuses = re.findall(r"^GenServer.call\(pid, (:\w+)\) -> :ok; .*status: (:\w+)\}$", out,
                          re.M)
    expect(statuses == [(":assign_agent", ":assigned"), (":resolve", ":resolved")],
           "statuses: %s" % statuses)


CHECKS = {f.__name__: f for f in [
    one_for_one_request_workers, one_for_all_database_cluster, rest_for_one_pipeline,
    simple_queue_application, simple_queue_application_with_args,
    simple_queue_dynamic_supervisor, send_emails_task, task_supervisor_transient,
    chat_app_dynamic_supervisor, support_system_tickets]}


def run(bin_dir, name):
    try:
        p = subprocess.run([os.path.join(bin_dir, name)], capture_output=True, text=True,
                           timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise Failure("still running after %d s" % TIMEOUT_S)
    if p.returncode != 0:
        raise Failure("exit status %d\n%s" % (p.returncode, p.stderr))
    try:
        CHECKS[name](p.stdout)
    except Failure as f:
        raise Failure("%s\n--- its output ---\n%s" % (f, p.stdout))


def main():
    bin_dir, names = sys.argv[1], sys.argv[2:] or list(CHECKS)
    failed = 0
    for name in names:
        try:
            run(bin_dir, name)
            print("ok   %s" % name)
        except Failure as f:
            print("FAIL %s: %s" % (name, f))
            failed += 1
    sys.exit(1 if failed else 0)


main()
