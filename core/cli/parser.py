"""The ``agent-jobs`` command line."""
from __future__ import annotations

import argparse
from typing import NoReturn

from core.server.priority import SERVER_NICENESS


def _percent(text: str) -> int:
    try:
        value = int(text.strip().rstrip("%"))
    except ValueError:
        value = 0
    if not 1 <= value <= 100:
        raise argparse.ArgumentTypeError(
            f"'{text}' is not a pressure threshold: write a percent from 1 to 100, e.g. 20")
    return value


def _job_options(p: argparse.ArgumentParser, *, creating: bool) -> None:
    """Options shared by ``job create`` and ``job set``. When setting, an
    option left out keeps the job's current value."""
    keep = None if not creating else argparse.SUPPRESS
    p.add_argument("--computer", action="append", required=creating, metavar="CNAME=PATH",
                   help="a computer to protect (repeatable"
                        + ("" if creating else "; replaces the job's computers") + ")")
    p.add_argument("--description", default=None if not creating else "")
    p.add_argument("--tasks", type=int, default=None if not creating else 2,
                   help="task slots (default 2)")
    p.add_argument("--throttle", type=float, default=None, metavar="MBPS",
                   help="cap each computer's read rate in MB/s"
                   + ("" if creating else "; 0 removes the cap"))
    yielding = p.add_argument_group(
        "yield to production (each computer slows, and holds at a chunk boundary, while its "
        "own io or cpu pressure, Linux PSI, is above a threshold)")
    yes_no = yielding.add_mutually_exclusive_group()
    yes_no.add_argument("--yield-to-production", action="store_true", default=None,
                        help="yield to production on every computer of the job")
    yes_no.add_argument("--no-yield-to-production", action="store_false",
                        dest="yield_to_production", help="read at full speed (the default)")
    yielding.add_argument("--pressure-threshold", type=_percent, default=None, metavar="PERCENT",
                          help="pressure above which the backup yields, 1-100 (default 20)")
    p.add_argument("--retain", type=int, default=None if not creating else 7,
                   help="restore points to keep per computer (default 7)")
    gfs = p.add_argument_group("GFS retention (besides --retain: the newest point of each of "
                               "the last N days, ISO weeks, months, years that have one)")
    for period in ("daily", "weekly", "monthly", "yearly"):
        gfs.add_argument(f"--keep-{period}", type=int, default=None, metavar="N",
                         help=f"keep {period} points (0: none"
                              + ("" if creating else "; left out: unchanged") + ")")
    p.add_argument("--repository", default=None, metavar="NAME",
                   help="the backup repository (default: Default Backup Repository; see "
                        "'agent-jobs repository list')")
    ssh = p.add_argument_group("Linux computers over SSH (--computer NAME=ssh://USER@HOST/PATH)")
    ssh.add_argument("--identity", metavar="FILE",
                     help="the private key to log in with (default: the server user's keys)")
    ssh.add_argument("--known-hosts", metavar="FILE",
                     help="where host keys are checked (default: DATA_DIR/known_hosts)")
    accept = ssh.add_mutually_exclusive_group()
    accept.add_argument("--accept-new-host-key", action="store_true", default=None,
                        help="trust and remember a host key never seen before (a changed key "
                             "is always refused)")
    if not creating:
        accept.add_argument("--no-accept-new-host-key", action="store_false",
                            dest="accept_new_host_key",
                            help="only connect to hosts whose key is already known")
    include = p.add_mutually_exclusive_group()
    include.add_argument("--include", action="append", default=keep, metavar="FOLDER",
                         help="back up only these folders (repeatable)")
    include.add_argument("--entire-computer", action="store_true",
                         help="back up the whole computer (forget --include folders)")
    exclude = p.add_mutually_exclusive_group()
    exclude.add_argument("--exclude", action="append", default=keep, metavar="MASK",
                         help="skip files and folders matching this mask (repeatable)")
    exclude.add_argument("--no-exclude", action="store_true", help="remove the exclude masks")
    full = p.add_argument_group("periodic active full").add_mutually_exclusive_group()
    full.add_argument("--active-full-weekly", metavar="DAYS",
                      help="the first scheduled run on these days is an active full "
                           "(mon,tue,... or weekdays, weekends, all)")
    full.add_argument("--active-full-monthly", metavar="DAY",
                      help="the first scheduled run on this day of the month (1-31 or "
                           "'last') is an active full")
    full.add_argument("--no-active-full", action="store_true",
                      help="no periodic active full")
    health = p.add_argument_group("scheduled health check (a Verify session after that "
                                  "day's backup)")
    hc = health.add_mutually_exclusive_group()
    hc.add_argument("--health-check-weekly", metavar="DAYS",
                    help="after the first backup on these days, verify the job's points "
                         "(mon,tue,... or weekdays, weekends, all)")
    hc.add_argument("--health-check-monthly", metavar="DAY",
                    help="after the first backup on this day of the month (1-31 or 'last'), "
                         "verify the job's points")
    hc.add_argument("--no-health-check", action="store_true", help="no scheduled health check")
    health.add_argument("--health-check-mode", choices=["light", "full", "auto"],
                        help="full: re-read every block; light: list and size every object "
                             "the points need, read no data (auto, the default: full for a "
                             "folder, light for S3)")
    notify = p.add_argument_group("notifications (where they go: 'agent-jobs notifications')")
    notify.add_argument("--notify-on", metavar="RESULTS",
                        help="send a notification when a session ends with these results: "
                             "failure,warning,success, or none (default warning,failure)")
    last = notify.add_mutually_exclusive_group()
    last.add_argument("--notify-last-retry-only", action="store_true", default=None,
                      help="a failed scheduled run says nothing while a retry is to come")
    if not creating:
        last.add_argument("--notify-every-retry", action="store_false",
                          dest="notify_last_retry_only",
                          help="notify after every failed run, retries included")
    notify.add_argument("--notify-to", action="append", metavar="ADDR",
                        help="also mail this job's notifications to ADDR (repeatable"
                             + ("" if creating else "; replaces the job's extra "
                                "recipients; '' removes them") + ")")
    notify.add_argument("--rpo", metavar="HOURS",
                        help="alert once when a computer has had no new restore point for "
                             "HOURS hours" + ("" if creating else " (0 or 'off': no alert)"))
    if not creating:
        p.add_argument("--source", default=None, metavar="JOB",
                       help="a backup copy job only: the backup job whose points it copies")
    _schedule_options(p)


def _retention_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--retain", type=int, default=7,
                   help="restore points to keep per computer (default 7)")
    gfs = p.add_argument_group("GFS retention (besides --retain: the newest point of each of "
                               "the last N days, ISO weeks, months, years that have one)")
    for period in ("daily", "weekly", "monthly", "yearly"):
        gfs.add_argument(f"--keep-{period}", type=int, default=None, metavar="N",
                         help=f"keep {period} points (0: none)")


def _copy_commands(sub: argparse._SubParsersAction[_Parser]) -> None:
    copy = sub.add_parser("copy", help="backup copy jobs: copy a backup job's restore points "
                                       "to another repository")
    csub = copy.add_subparsers(dest="copy_command", required=True, metavar="ACTION")
    create = csub.add_parser("create", help="create a backup copy job (change it with "
                                            "'job set', run it with 'start')")
    create.add_argument("name")
    create.add_argument("--source", required=True, metavar="JOB",
                        help="the backup job whose restore points are copied")
    create.add_argument("--repository", required=True, metavar="REPO",
                        help="where the copies go: another repository than the source job's "
                             "(see 'agent-jobs repository list')")
    create.add_argument("--description", default="")
    create.add_argument("--tasks", type=int, default=2,
                        help="computers copied at the same time (default 2)")
    create.add_argument("--throttle", type=float, default=None, metavar="MBPS",
                        help="cap each computer's read rate from the source in MB/s")
    _retention_options(create)
    _schedule_options(create)


def _schedule_options(p: argparse.ArgumentParser) -> None:
    sched = p.add_argument_group("schedule (run the job automatically)")
    kind = sched.add_mutually_exclusive_group()
    kind.add_argument("--daily", metavar="HH:MM", help="run daily at this time")
    kind.add_argument("--monthly", metavar="DAY", help="run monthly on this day (1-31 or 'last')")
    kind.add_argument("--every", metavar="PERIOD",
                      help="run periodically, e.g. 30 (minutes), 90m or 4h")
    kind.add_argument("--no-schedule", action="store_true", help="do not run automatically")
    sched.add_argument("--days", metavar="DAYS",
                       help="with --daily: mon,tue,... or weekdays, weekends, all")
    sched.add_argument("--at", metavar="HH:MM", help="with --monthly: the time (default 22:00)")
    sched.add_argument("--retries", type=int, metavar="N",
                       help="retry a failed run N times (default 3)")
    sched.add_argument("--retry-wait", metavar="MINUTES",
                       help="minutes between retries (default 10)")
    window = sched.add_mutually_exclusive_group()
    window.add_argument("--window", metavar="HH:MM-HH:MM",
                        help="backup window: scheduled runs start only inside it")
    window.add_argument("--no-window", action="store_true", help="remove the backup window")
    sched.add_argument("--window-days", metavar="DAYS", help="days the backup window opens")
    sched.add_argument("--window-stop", choices=["gracefully", "immediately", "pause"],
                       help="when the window closes on a running job, stop it this way "
                            "(default gracefully; immediately: terminate the job; pause: "
                            "pause it and resume it when the window opens again)")


def _notification_commands(sub: argparse._SubParsersAction[_Parser]) -> None:
    note = sub.add_parser("notifications", help="e-mail and notification URLs: where the "
                                                "server sends job results, the daily summary "
                                                "and RPO alerts")
    nsub = note.add_subparsers(dest="notifications_command", required=True, metavar="ACTION")
    nset = nsub.add_parser("set", help="set the mail server, the daily summary's time")
    nset.add_argument("--smtp", metavar="HOST[:PORT]",
                      help="the mail server (port default: 25; 587 with starttls; 465 with ssl)")
    nset.add_argument("--security", choices=["none", "starttls", "ssl"],
                      help="how the connection is protected (default: by the port: 465 ssl, "
                           "587 starttls, else none)")
    nset.add_argument("--from", dest="sender", metavar="ADDR", help="the sender's address")
    nset.add_argument("--to", action="append", metavar="ADDR",
                      help="a recipient (repeatable, or comma-separated; replaces the list)")
    nset.add_argument("--user", metavar="NAME", help="log in to the mail server as NAME "
                                                     "('' : no login)")
    nset.add_argument("--password-file", metavar="FILE",
                      help="the login's password, read from FILE ('-': standard input); kept "
                           "in DATA_DIR/secrets, readable by the server's user only")
    nset.add_argument("--no-smtp", action="store_true", help="send no e-mail (forget the "
                                                             "mail server and its password)")
    summary = nset.add_mutually_exclusive_group()
    summary.add_argument("--summary-at", metavar="HH:MM",
                         help="send a daily summary at this time (server's local time)")
    summary.add_argument("--no-summary", action="store_true", help="no daily summary")
    add = nsub.add_parser("add-url", help="add a notification URL in apprise's syntax "
                                          "(json://HOST:PORT/PATH, ntfy://TOPIC, slack://...)")
    add.add_argument("url")
    remove = nsub.add_parser("remove-url", help="remove a notification URL")
    remove.add_argument("url")
    show = nsub.add_parser("show", help="show the settings and what was sent")
    show.add_argument("--json", action="store_true")
    nsub.add_parser("test", help="send a test message to every destination now")


def _repository_commands(sub: argparse._SubParsersAction[_Parser]) -> None:
    repo = sub.add_parser("repository", help="add, list or remove backup repositories")
    rsub = repo.add_subparsers(dest="repository_command", required=True, metavar="ACTION")
    add = rsub.add_parser("add", help="add a repository: a folder, or S3 "
                                      "(s3:http(s)://HOST:PORT/BUCKET[/PREFIX])")
    add.add_argument("name")
    test = rsub.add_parser("test", help="say what adding a repository would find there "
                                        "(creates nothing)")
    for p in (add, test):
        p.add_argument("--url", required=True, metavar="URL",
                       help="a folder path, or s3:http(s)://HOST:PORT/BUCKET[/PREFIX] (S3 keys: "
                            "--credentials-file, else AWS_ACCESS_KEY_ID and "
                            "AWS_SECRET_ACCESS_KEY of this shell, else the server's)")
        _credentials_option(p)
        p.add_argument("--password-file", metavar="FILE",
                       help="encrypt with the password on the first line of FILE (for an "
                            "existing repository: the password that opens it)")
        p.add_argument("--insecure-no-encryption", action="store_true",
                       help="S3 without a password: the backups are stored unencrypted")
        p.add_argument("--immutable-days", type=int, metavar="N",
                       help="S3 with Object Lock: write every object with a COMPLIANCE lock "
                            "of N days, so nobody can delete or change recent backups")
    lst = rsub.add_parser("list", help="list the repositories, their jobs and space")
    lst.add_argument("--json", action="store_true")
    remove = rsub.add_parser("remove", help="remove a repository from the list (its data is "
                                            "kept)")
    remove.add_argument("name")
    key = rsub.add_parser("key", help="the passwords (keys) of an encrypted repository")
    ksub = key.add_subparsers(dest="key_command", required=True, metavar="ACTION")
    klist = ksub.add_parser("list", help="list the repository's keys")
    klist.add_argument("name")
    klist.add_argument("--json", action="store_true")
    kadd = ksub.add_parser("add", help="add a password")
    kadd.add_argument("name")
    kadd.add_argument("--new-password-file", required=True, metavar="FILE",
                      help="the new password, on the first line of FILE")
    kremove = ksub.add_parser("remove", help="remove a password (not the server's own, not "
                                             "the last)")
    kremove.add_argument("name")
    kremove.add_argument("key_id")
    kpasswd = ksub.add_parser("passwd", help="change the server's password: add a key with "
                                             "the new one, remove the key it replaces")
    kpasswd.add_argument("name")
    kpasswd.add_argument("--new-password-file", required=True, metavar="FILE",
                         help="the new password, on the first line of FILE")
    password = rsub.add_parser("password", help="set the password the server keeps for an "
                                                "encrypted repository (checked first)")
    password.add_argument("name")
    password.add_argument("--password-file", required=True, metavar="FILE",
                          help="the repository's password, on the first line of FILE")
    set_keys = rsub.add_parser("set-keys", help="set or replace the S3 keys the server keeps "
                                                "for an S3 repository (checked first)")
    set_keys.add_argument("name")
    _credentials_option(set_keys)


def _credentials_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--credentials-file", metavar="FILE",
                   help="S3 keys in AWS shared-credentials format ([default] "
                        "aws_access_key_id=..., aws_secret_access_key=...), mode 0600")


class UsageError(Exception):
    """A command line that does not parse; ``main`` prints it (exit status 2)."""


class _Parser(argparse.ArgumentParser):
    """Usage mistakes are one line, like every other error."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see '{self.prog} --help').")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="agent-jobs",
        description="Manage and run agent backup jobs. Every command talks to the data "
                    "directory's backup server and starts one when none runs.")
    p.add_argument("--data-dir", help="data directory (default: $AGENT_CONSOLE_DATA_DIR "
                                      "or the platform's user data directory)")
    remote = p.add_argument_group(
        "a backup server on another machine (over TLS, as a named user)")
    remote.add_argument("--server", dest="remote_server", metavar="https://HOST:PORT",
                        help="the server to use instead of the data directory's (default "
                             "$AGENT_JOBS_SERVER)")
    remote.add_argument("--user", dest="remote_user", metavar="NAME",
                        help="log in as this user (default $AGENT_JOBS_USER)")
    remote.add_argument("--password-file", dest="remote_password_file", metavar="FILE",
                        help="the user's password on the first line of FILE (default "
                             "$AGENT_JOBS_PASSWORD, else asked on a terminal)")
    remote.add_argument("--code", metavar="CODE", help="the TOTP code, for a user with a "
                                                       "second factor ($AGENT_JOBS_CODE)")
    remote.add_argument("--fingerprint", metavar="HEX",
                        help="the server certificate's SHA-256 fingerprint: anything else is "
                             "refused before the password is sent ($AGENT_JOBS_FINGERPRINT)")
    remote.add_argument("--trust", action="store_true",
                        help="first use: trust the certificate the server presents and "
                             "remember it in ~/.config/agent-jobs/known_servers")
    remote.add_argument("--known-servers", metavar="FILE", help=argparse.SUPPRESS)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    server = sub.add_parser("server", help="run, inspect or stop the backup server")
    ssub = server.add_subparsers(dest="server_command", metavar="ACTION")
    server.set_defaults(server_command="run", listen=None, idle_exit=None, tls=False,
                        tls_cert=None, tls_key=None,
                        nice=SERVER_NICENESS, identity=None, known_hosts=None)
    run = ssub.add_parser("run", help="run the server in the foreground (the default)")
    run.add_argument("--listen", metavar="HOST:PORT",
                     help="also listen on TCP: on loopback, requests need the bearer token "
                          "from DATA_DIR/server.token; any other address needs --tls")
    run.add_argument("--tls", action="store_true",
                     help="serve HTTPS only on --listen (users log in; see 'user add'), with "
                          "--tls-cert/--tls-key or a self-signed certificate kept in "
                          "DATA_DIR/tls")
    run.add_argument("--tls-cert", metavar="FILE", help="the TLS certificate (PEM, the "
                                                        "chain after it)")
    run.add_argument("--tls-key", metavar="FILE", help="the TLS certificate's private key "
                                                       "(PEM)")
    run.add_argument("--idle-exit", type=float, metavar="SECONDS",
                     help="exit after this long with no session, no schedule and no client")
    run.add_argument("--nice", type=int, choices=range(0, 20), metavar="0-19",
                     default=SERVER_NICENESS,
                     help=f"run at this lower CPU priority, as a background service does, so "
                          f"a console on the same machine stays smooth while backups run "
                          f"(default {SERVER_NICENESS}; 0: normal priority)")
    run.add_argument("--identity", metavar="FILE",
                     help="the private key for Linux computers over SSH whose job names none "
                          "(default: the server user's keys)")
    run.add_argument("--known-hosts", metavar="FILE",
                     help="where host keys are checked for jobs that name no file (default: "
                          "DATA_DIR/known_hosts)")
    status = ssub.add_parser("status", help="show whether a server runs, and what it does")
    status.add_argument("--json", action="store_true")
    stop = ssub.add_parser("stop", help="stop the server")
    stop.add_argument("--jobs", choices=["immediately", "gracefully"],
                      help="stop running jobs this way first (without it, a server with "
                           "running jobs is not stopped)")

    sub.add_parser("demo", help="create the demo computers and jobs (idempotent)")

    job = sub.add_parser("job", help="create, change, list or delete jobs")
    jsub = job.add_subparsers(dest="job_command", required=True, metavar="ACTION")
    create = jsub.add_parser("create", help="create an agent backup job")
    create.add_argument("name")
    _job_options(create, creating=True)
    change = jsub.add_parser("set", help="change a job's settings")
    change.add_argument("name")
    change.add_argument("--name", dest="new_name", metavar="NEW_NAME", help="rename the job")
    _job_options(change, creating=False)
    lst = jsub.add_parser("list", help="list jobs")
    lst.add_argument("--json", action="store_true")
    preview = jsub.add_parser("retention-preview",
                              help="which restore points the job's retention keeps (and why) "
                                   "and which would go now (removes nothing)")
    preview.add_argument("name")
    preview.add_argument("--json", action="store_true")
    show = jsub.add_parser("show", help="show a job's settings")
    show.add_argument("name")
    show.add_argument("--json", action="store_true")
    delete = jsub.add_parser("delete", help="delete a job")
    delete.add_argument("name")
    delete.add_argument("--delete-backups", action="store_true",
                        help="also delete the job's restore points from disk")
    for verb in ("enable", "disable"):
        jsub.add_parser(verb, help=f"{verb} a job").add_argument("name")
    clone = jsub.add_parser("clone", help="copy a job with its settings; the copy is created "
                                          "disabled so that it does not run beside the original")
    clone.add_argument("name")
    clone.add_argument("--name", dest="new_name", metavar="NEW_NAME",
                       help="the copy's name (default: 'NAME clone', 'NAME clone 2', ...)")
    clone.add_argument("--json", action="store_true")

    _repository_commands(sub)
    _copy_commands(sub)

    maint = sub.add_parser("maintenance", help="the maintenance window: prune and compaction "
                                               "run there instead of inside backups")
    msub = maint.add_subparsers(dest="maintenance_command", required=True, metavar="ACTION")
    mset = msub.add_parser("set", help="set the server-wide maintenance window")
    mset.add_argument("--window", required=True, metavar="HH:MM-HH:MM",
                      help="when maintenance may run, e.g. 01:00-05:00 (it is stopped when "
                           "the window closes)")
    mset.add_argument("--days", metavar="DAYS",
                      help="days the window opens (mon,tue,... or weekdays, weekends, all; "
                           "default all)")
    mshow = msub.add_parser("show", help="show the maintenance window")
    mshow.add_argument("--json", action="store_true")
    msub.add_parser("clear", help="remove the window: backups reclaim space at their end")

    _notification_commands(sub)
    _audit_commands(sub)
    from core.cli.users_parser import add_commands as _user_commands
    _user_commands(sub)

    start = sub.add_parser("start", help="start a job")
    start.add_argument("name")
    start.add_argument("--full", action="store_true", help="active full: read all data again")
    start.add_argument("--retry", action="store_true",
                       help="process only the computers that failed last time")
    start.add_argument("--wait", action="store_true", help="return when the session ends")
    start.add_argument("--outside-window", action="store_true",
                       help="start even outside the job's backup window")
    start.add_argument("--json", action="store_true",
                       help="print the session id (with --wait: the ended session) as JSON, "
                            "and no progress")

    stop_job = sub.add_parser("stop", help="stop a running job")
    stop_job.add_argument("name")
    mode = stop_job.add_mutually_exclusive_group(required=True)
    mode.add_argument("--immediately", action="store_true")
    mode.add_argument("--gracefully", action="store_true")
    mode.add_argument("--gracefully-past-rpo", action="store_true",
                      help="computers in progress past (or about to pass) the job's RPO "
                           "(--rpo) finish; the others stop now with no new restore point; "
                           "none new starts")
    stop_job.add_argument("--wait", action="store_true", help="return when the session ends")
    stop_job.add_argument("--escalate-after", metavar="DURATION",
                          help="with --gracefully (or --gracefully-past-rpo): stop "
                               "immediately if the job still runs "
                               "after this long (e.g. 90s, 10m, 2h)")
    stop_job.add_argument("--json", action="store_true",
                          help="print who gets a restore point (with --wait: and the ended "
                               "session) as JSON")

    for verb, text in (("pause", "pause a running job: every computer in flight is held at "
                                 "its next block and keeps what it sent"),
                       ("resume", "resume a paused job: each computer goes on where it stopped")):
        hold = sub.add_parser(verb, help=text)
        hold.add_argument("name")
        hold.add_argument("--json", action="store_true",
                          help="print where each computer stands as JSON")

    sessions = sub.add_parser("sessions", help="list sessions (backup, restore, verify)")
    sessions.add_argument("name", nargs="?")
    sessions.add_argument("--json", action="store_true")

    session = sub.add_parser("session", help="show one session in full")
    ssub2 = session.add_subparsers(dest="session_command", required=True, metavar="ACTION")
    show_session = ssub2.add_parser("show", help="a session's figures, every computer's "
                                                 "figures and the logs")
    show_session.add_argument("session_id")
    show_session.add_argument("--json", action="store_true")

    points = sub.add_parser("points", help="list restore points")
    points.add_argument("name", nargs="?")
    points.add_argument("--json", action="store_true")

    restore = sub.add_parser("restore", help="restore a point into a new or empty folder")
    restore.add_argument("point_id")
    restore.add_argument("target")
    restore.add_argument("--path", action="append", metavar="SUBPATH",
                         help="restore only this file or folder of the point, relative to the "
                              "computer's folder (repeatable)")

    verify = sub.add_parser("verify", help="re-check stored data of one or all points")
    verify.add_argument("point_id", nargs="?")

    repair = sub.add_parser("repair", help="rebuild the repository's index from its packs and "
                                           "drop damaged copies; --catalogue: rebuild the "
                                           "catalogue from the repository")
    repair.add_argument("--catalogue", action="store_true",
                        help="rebuild a damaged catalogue from the repository's manifests "
                             "(stops the server first; keeps every restore point and every "
                             "job still readable, moves the damaged file aside)")
    return p


def _audit_commands(sub: argparse._SubParsersAction[_Parser]) -> None:
    audit = sub.add_parser("audit", help="the audit trail: who changed, started, stopped, "
                                         "restored what, and when")
    audit.set_defaults(audit_command="list")
    audit.add_argument("--since", metavar="WHEN",
                       help="only entries since then: 2026-12-01, 2026-12-01T08:00, 24h, 7d")
    audit.add_argument("--user", help="only what this user did (local: the server's own user)")
    audit.add_argument("--limit", type=int, default=1000, help="at most this many (newest)")
    audit.add_argument("--json", action="store_true")
    asub = audit.add_subparsers(dest="audit_command", metavar="ACTION")
    check = asub.add_parser("verify", help="check the hash chain: exit 1 if a row was changed, "
                                           "removed or cut off")
    check.add_argument("--json", action="store_true")
