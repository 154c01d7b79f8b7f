"""Reads tilt/Tiltfile without Tilt (which cannot be built here) for tiltfile.checks.ts.

1. Parses it with Python's ast (Starlark's grammar is a subset of Python's) and reports constructs
   Starlark lacks or Tilt does not enable, and names that are neither Tilt built-ins, Starlark
   built-ins, load()ed, nor defined in the file.
2. Runs it under Python with a stub for each Tilt built-in that records the call and its
   arguments. kustomize() returns the rendered overlay handed in as JSON, so the file's own
   transformation of the objects runs for real.

Usage: tiltfile-eval.py TILTFILE OVERLAY_JSON CONTEXT  ->  JSON on stdout:
{"problems": [...], "calls": [{"fn", "args", "kwargs"}], "applied": [objects], "error": str|null}
"""

import ast
import json
import sys

TILT_BUILTINS = {
    'allow_k8s_contexts', 'analytics_settings', 'blob', 'ci_settings', 'custom_build', 'dc_resource',
    'decode_json', 'decode_yaml', 'decode_yaml_stream', 'default_registry', 'disable_snapshots',
    'docker_build', 'docker_compose', 'docker_prune_settings', 'enable_feature', 'encode_json',
    'encode_yaml', 'encode_yaml_stream', 'exec_action', 'exit', 'fail', 'fall_back_on', 'filter_yaml',
    'helm', 'http_get_action', 'include', 'initial_sync', 'k8s_context', 'k8s_custom_deploy',
    'k8s_kind', 'k8s_namespace', 'k8s_resource', 'k8s_yaml', 'kustomize', 'link', 'listdir', 'load',
    'load_dynamic', 'local', 'local_resource', 'port_forward', 'probe', 'read_file', 'read_json',
    'read_yaml', 'read_yaml_stream', 'restart_container', 'run', 'secret_settings', 'set_team',
    'struct', 'sync', 'tcp_socket_action', 'trigger_mode', 'update_settings', 'version_settings',
    'warn', 'watch_file', 'watch_settings', 'workload_to_resource_function',
    'TRIGGER_MODE_AUTO', 'TRIGGER_MODE_MANUAL', 'os', 'config', 'shlex', 'sys', 'v1alpha1',
}
STARLARK_BUILTINS = {
    'None', 'True', 'False', 'abs', 'all', 'any', 'bool', 'bytes', 'dict', 'dir', 'enumerate',
    'float', 'getattr', 'hasattr', 'hash', 'int', 'len', 'list', 'max', 'min', 'print', 'range',
    'repr', 'reversed', 'set', 'sorted', 'str', 'tuple', 'type', 'zip',
}
# Python syntax that Starlark has no counterpart for (Tilt enables top-level for/if/while,
# sets via set(), recursion and global reassignment, nothing more).
REJECTED = {
    ast.ClassDef: 'class', ast.Try: 'try', ast.With: 'with', ast.Import: 'import',
    ast.ImportFrom: 'from-import', ast.JoinedStr: 'f-string', ast.AsyncFunctionDef: 'async def',
    ast.Await: 'await', ast.Yield: 'yield', ast.YieldFrom: 'yield from', ast.Global: 'global',
    ast.Nonlocal: 'nonlocal', ast.Raise: 'raise', ast.Assert: 'assert', ast.Delete: 'del',
    ast.Set: 'set literal', ast.SetComp: 'set comprehension', ast.NamedExpr: 'walrus',
    ast.Is: 'is', ast.IsNot: 'is not',
}


def static_problems(tree):
    problems = []
    defined = set(TILT_BUILTINS) | STARLARK_BUILTINS
    for node in ast.walk(tree):
        if type(node) in REJECTED:
            problems.append('line %d: %s is not Starlark' % (node.lineno if hasattr(node, 'lineno') else 0, REJECTED[type(node)]))
        if isinstance(node, ast.FunctionDef) and node.decorator_list:
            problems.append('line %d: decorators are not Starlark' % node.lineno)
        if isinstance(node, ast.Compare) and len(node.ops) > 1:
            problems.append('line %d: chained comparisons are not Starlark' % node.lineno)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            defined.add(node.id)
        if isinstance(node, ast.FunctionDef):
            defined.add(node.name)
            defined.update(a.arg for a in node.args.args + node.args.kwonlyargs)
            if node.args.vararg: defined.add(node.args.vararg.arg)
            if node.args.kwarg: defined.add(node.args.kwarg.arg)
        if isinstance(node, ast.Lambda):
            defined.update(a.arg for a in node.args.args)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == 'load':
            if not node.args or not isinstance(node.args[0], ast.Constant):
                problems.append('line %d: load() needs a string literal' % node.lineno)
            defined.update(a.value for a in node.args[1:] if isinstance(a, ast.Constant))
            defined.update(k.arg for k in node.keywords)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id not in defined:
            problems.append('line %d: %s is not a Tilt or Starlark built-in, load()ed or defined' % (node.lineno, node.id))
    return problems


class Blob(str):
    pass


class TiltfileFailed(Exception):
    pass


def run(text, overlay, context):
    calls = []
    applied = []

    def record(fn, result=None):
        def stub(*args, **kwargs):
            calls.append({'fn': fn, 'args': list(args), 'kwargs': kwargs})
            return result(*args, **kwargs) if result else None
        return stub

    def fail(msg):
        raise TiltfileFailed(msg)

    def load(path, *names, **aliases):
        calls.append({'fn': 'load', 'args': [path] + list(names), 'kwargs': {}})
        for name in list(names) + list(aliases.keys()):
            env[name] = record(name)

    def k8s_yaml(yaml, **kwargs):
        calls.append({'fn': 'k8s_yaml', 'args': ['<objects>'], 'kwargs': {}})
        applied.extend(json.loads(yaml))

    env = {name: record(name) for name in TILT_BUILTINS}
    env.update({
        '__builtins__': {name: __builtins__.__dict__[name] for name in STARLARK_BUILTINS
                         if name in __builtins__.__dict__},
        'fail': fail,
        'load': load,
        'k8s_yaml': k8s_yaml,
        'k8s_context': lambda: context,
        'kustomize': record('kustomize', lambda path, **kw: Blob(json.dumps(overlay))),
        'decode_yaml_stream': lambda blob: json.loads(blob),
        'encode_yaml_stream': lambda objs: Blob(json.dumps(objs)),
        'link': record('link', lambda url, name=None: {'link': url, 'name': name}),
        'sync': lambda local, remote: {'sync': [local, remote]},
        'fall_back_on': lambda files: {'fall_back_on': files if isinstance(files, list) else [files]},
        'run': lambda cmd, trigger=[], echo_off=False: {'run': cmd, 'trigger': trigger},
        'TRIGGER_MODE_AUTO': 'TRIGGER_MODE_AUTO',
        'TRIGGER_MODE_MANUAL': 'TRIGGER_MODE_MANUAL',
    })
    env['__builtins__']['print'] = lambda *a, **k: None
    try:
        exec(compile(text, 'Tiltfile', 'exec'), env)
        error = None
    except TiltfileFailed as failure:
        error = 'fail(): %s' % failure
    except Exception as exception:  # the Tiltfile's own error, reported as data
        error = '%s: %s' % (type(exception).__name__, exception)
    return calls, applied, error


def main():
    tiltfile, overlay_json, context = sys.argv[1:4]
    with open(tiltfile) as f:
        text = f.read()
    with open(overlay_json) as f:
        overlay = json.load(f)
    try:
        tree = ast.parse(text, filename='Tiltfile')
    except SyntaxError as error:
        print(json.dumps({'problems': ['line %s: %s' % (error.lineno, error.msg)], 'calls': [],
                          'applied': [], 'error': 'syntax'}))
        return
    problems = static_problems(tree)
    calls, applied, error = run(text, overlay, context) if not problems else ([], [], 'not run')
    print(json.dumps({'problems': problems, 'calls': calls, 'applied': applied, 'error': error},
                     default=str))


main()
