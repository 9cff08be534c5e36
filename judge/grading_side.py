"""The judge's side in the grading process: the student's kernel as the hidden tests see it (protocol:
``judge/__init__.py``).

``Student`` is the kernel of one graded cell: ``function`` gives a student's function or class as a
``Remote``, whose calls, attributes and items are questions to the kernel (``ask_kernel``); what comes back
is plain data, or a handle (a ``Remote`` again) to an object that stays in the kernel, such as a model. A
gradient through any of them is asked of the kernel too. After a call, each tensor argument the student's
code changed in place is changed here as well, so a check sees what the call did to its inputs.

An object of the hidden tests passed to the student's code is lent (``Student.lend``): the kernel's
stand-in asks for its attributes and has its methods computed here (``answer_request``), differentiably; a
module's parameters here receive the gradients the kernel sends through it. ``Student.lend_copy`` instead
builds a copy of a small network in the kernel, which the student's code may change. A student function of
an earlier exercise that failed is replaced, while a later exercise's code runs, by the hidden tests' own
version, which the kernel reaches the same way; one that passed is the student's (``Verdicts``).
"""
import asyncio
import contextlib
import inspect
import itertools
import json
import secrets
import time
from queue import Empty

import torch
from nbclient.exceptions import DeadKernelError
from nbclient.util import run_sync
from torch import nn

from judge.arguments_kept import called_keeping_arguments
from judge.kernel_side import ASKING
from judge.wire import (COPY_LAYERS, MAX_ANSWER_BYTES, MIME_TYPE, QUESTION_KEY, AnswerError, Wire, bridged, shortened,
                        tensors_in)
from vae_helpers.lending import AsLent

QUESTION_SECONDS = 120  # the longest the kernel may take to answer one question
EXERCISE_SECONDS = 600  # ... and all the questions of one graded cell
HIDDEN_TEST_MODULES = "hidden_tests."  # the names hidden test modules are loaded under (judge.hidden_tests)
VISIBLE_CHECK_MODULES = "vae_helpers.exercises."  # the graded cells' visible checks, which lend objects too
# the errors of the student's code that a check sees as themselves; any other is a RuntimeError
RAISED = {kind.__name__: kind for kind in (
    ArithmeticError, AssertionError, AttributeError, IndexError, KeyError, NameError, NotImplementedError,
    RuntimeError, TypeError, ValueError, ZeroDivisionError)}
KernelAnswerError = AnswerError  # the kernel did not answer a question properly; the exercise fails


class Student(Wire):
    """The student's kernel, as the judge of one cell sees it: what it is asked, and what is lent to it."""

    def __init__(self, ask, verdicts=None, cell=None):
        """``ask``: a ``KernelQuestions``; ``verdicts``: what the notebook's earlier graded cells found;
        ``cell``: this cell's name."""
        super().__init__()
        self._ask, self._callbacks = ask, itertools.count()
        self._lent, self._lent_ids, self._graphs = {}, {}, {}
        self._verdicts, self._cell = verdicts if verdicts is not None else Verdicts(), cell
        self._asking_for = f"{cell}/{secrets.token_hex(4)}"  # the kernel keeps what it holds for this judge only
        self._received_copies, self._answering, self._sending_result = set(), False, False
        self._built, self._copies = set(), itertools.count()  # what a lent class built, to be lent in turn
        self._deadline = time.monotonic() + EXERCISE_SECONDS
        self._replacing_now = {}  # what the handles read from the current answer inherit

    def function(self, name, replacing):
        """The student's function ``name``; during its calls, each name in ``replacing`` is the hidden
        tests' function, unless the student's own passed the exercise that judged it."""
        self._verdicts.judged_by.setdefault(name, self._cell)
        replacing = {other: function for other, function in replacing.items()
                     if self._verdicts.judged_by.get(other) not in self._verdicts.passed}
        return Remote(self, {"name": name}, name, replacing)

    # what the judge sends

    def may_differentiate(self, tensor):
        """Arguments always; a lent method's result only if it is an independent variable here (its
        dependence on the method's arguments is asked of this side by the kernel's backward)."""
        return not self._sending_result or (tensor.grad_fn is None and id(tensor) not in self._received_copies)

    def encode_object(self, value):
        """An object of the judge, as the kernel receives it: lent, if the hidden tests passed it (or a lent
        class built it); from a lent method's result, anything else is only its type's name."""
        offers = object.__getattribute__(value, "offers") if isinstance(value, AsLent) else None
        value = _unwrapped(value)
        if isinstance(value, Remote):
            return {"remote": value._remote[1]["handle"]} if "handle" in value._remote[1] else {"object": "function"}
        if isinstance(value, LentCopy):
            return {"copy": value.spec}
        if isinstance(value, LentHere):
            lent = value
        elif id(value) in self._lent_ids or not self._sending_result or id(value) in self._built:
            # what a visible check's AsLent offers (01's toy: its W, b, logvar and decoder_mean), lent as the
            # hidden tests lend such a model: its values sent along, its methods computed here
            methods = {name for name in offers or () if callable(getattr(value, name))}
            values = tuple(name for name in offers or () if name not in methods)
            lent = LentHere(value, self._lend_id(value, _methods_of(value) | methods), values, {})
        else:
            return {"object": type(value).__name__[:60]}
        return {"lent": {"id": lent.id, "module": isinstance(lent.obj, nn.Module), "affine": lent.affine,
                         "parts": _parts_of(lent.obj),
                         "values": {name: self.encode(getattr(lent.obj, name)) for name in lent.values}}}

    def _lend_id(self, obj, methods):
        if id(obj) not in self._lent_ids:
            self._lent_ids[id(obj)] = len(self._lent)
            self._lent[len(self._lent)] = (obj, frozenset(methods))
        return self._lent_ids[id(obj)]

    def lend(self, obj, values=(), methods=(), affine=None):
        """``obj`` as the student's code may use it: its ``values`` (tensors, numbers) sent along, its
        ``methods`` (and what ``_methods_of`` allows of any such object) computed here, and each method in
        ``affine``, {name: (weight, bias)}, computed in the kernel as ``z @ weight.T + bias`` of two of those
        values (a toy model's decoder: the model's definition, no exercise's answer). Nothing else of it is
        reachable but a module's parts, lent in turn."""
        obj = _unwrapped(obj)
        return LentHere(obj, self._lend_id(obj, set(methods) | _methods_of(obj)), tuple(values), dict(affine or {}))

    def lend_copy(self, module):
        """A copy of ``module`` (an ``nn.Sequential`` of ``COPY_LAYERS``) built in the kernel, which the
        student's code may use and change; ``parameters_of`` reads its parameters back. The copy is the
        kernel's own: no request reaches ``module`` here."""
        layers = []
        for layer in module:
            if type(layer).__name__ not in COPY_LAYERS or type(layer) is not COPY_LAYERS[type(layer).__name__]:
                raise TypeError(f"lend_copy: a {type(layer).__name__} layer cannot be copied")
            args = {nn.Linear: lambda m: [m.in_features, m.out_features, m.bias is not None],
                    nn.Flatten: lambda m: [m.start_dim, m.end_dim]}.get(type(layer), lambda m: [])(layer)
            layers.append([type(layer).__name__, args])
        return LentCopy(module, {"id": f"copy {next(self._copies)}", "layers": layers,
                                 "state": {key: self.encode(value.detach()) for key, value in module.state_dict().items()}})

    def parameters_of(self, lent):
        """The parameters of a ``lend_copy`` as they are now in the kernel."""
        return self.decode(self.ask_kernel({"ask": "copy_parameters", "id": lent.spec["id"]})["result"])

    # what the judge reads

    def received_tensor(self, their_id, tensor):
        """A tensor that carried gradients in the kernel: differentiable here in what the judge sent."""
        if type(their_id) is str and their_id in self.received:
            return self.received[their_id]
        inputs = list(self.sent.values())
        tensor = tensor.requires_grad_(True)
        if inputs:
            wrt = list(self.sent)

            def ask_gradients(grad_outputs, of=their_id):
                answer = self.ask_kernel({"ask": "gradient", "of": [of], "grad_outputs": [self.encode(g) for g in grad_outputs], "wrt": wrt})
                _raise_what_the_student_raised(answer)
                return self.decode(answer["result"])

            tensor, _, _ = bridged(tensor, inputs, ask_gradients)
        self._received_copies.add(id(tensor))
        if type(their_id) is str:
            self.received[their_id] = tensor
        return tensor

    def decode_other(self, kind, body):
        if kind == "handle" and type(body) is dict and type(body.get("handle")) is int:
            name = "".join(c for c in str(body.get("type"))[:60] if c.isalnum() or c == "_") or "object"
            return type(name, (Remote,), {})(self, {"handle": body["handle"]}, name, self._replacing_now)
        if kind == "lent_ref" and body in self._lent and self._lent_refs:
            return self._lent[body][0]
        return super().decode_other(kind, body)

    # questions to the kernel

    _lent_refs = True

    def ask_kernel(self, question):
        """The kernel's answer to ``question`` (grading → kernel), its requests meanwhile answered here."""
        if self._answering:
            raise KernelAnswerError("grading asked the kernel a question while the kernel was asking grading one")
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise KernelAnswerError(f"the kernel took more than {EXERCISE_SECONDS} s to answer this exercise's questions")
        return self._ask(dict(question, cell=self._asking_for), self.answer_request, seconds=left)

    def ask_and_read(self, question, replacing, arguments=()):
        """The decoded result of ``question``, asked with the hidden tests' versions in ``replacing``; for a
        call, each tensor in ``arguments`` that the call changed in place is changed here too. A call asked
        with ``measure`` gives (result, the elements of the largest tensor it made in the kernel)."""
        question = dict(question, replacing={name: self.encode(f) for name, f in replacing.items()})
        if question["ask"] == "call":
            question["seed"] = int(torch.randint(2**31, (1,), device="cpu"))  # the judge's own seed makes the kernel's samples
        answer = self.ask_kernel(question)
        _raise_what_the_student_raised(answer)
        self._replacing_now = replacing
        try:
            result = self.decode(answer["result"])
            if question["ask"] == "call":
                self._change_as_the_kernel_did(arguments, answer.get("changed"))
            if question.get("measure"):
                largest = answer.get("largest")
                if type(largest) is not int or largest < 0:
                    raise ValueError("a measured call's answer does not say how large its tensors were")
                return result, largest
        except (ValueError, TypeError) as error:
            raise KernelAnswerError(f"the kernel's answer could not be read: {error}") from None
        return result

    def _change_as_the_kernel_did(self, arguments, changed):
        """Give each tensor in ``arguments`` the values the kernel's copy has after the call (``changed``:
        [[index among the tensors, tensor]])."""
        if type(changed) is not list:
            raise ValueError("a call's answer does not say which arguments it changed")
        tensors = tensors_in(list(arguments))
        for item in changed:
            if type(item) is not list or len(item) != 2 or type(item[0]) is not int or not 0 <= item[0] < len(tensors):
                raise ValueError("a call's answer names an argument it was not given")
            mine, theirs = tensors[item[0]], self.decode(item[1])
            if not isinstance(theirs, torch.Tensor) or theirs.shape != mine.shape:
                raise AssertionError(f"the call changed the shape of its tensor argument of shape "
                                     f"{tuple(mine.shape)} in place; leave the tensors you are given as they are")
            with torch.no_grad():
                mine.copy_(theirs.to(mine.dtype))

    # what the kernel asks while it answers

    def answer_request(self, request):
        """Answer a request (kernel → grading) the kernel makes while it answers a question: an attribute
        or a method's result of an object lent to it, or the gradient through such a result. Only what was
        lent, on data only."""
        self._answering = True
        try:
            return self._answer(request)
        finally:
            self._answering = False

    def _answer(self, request):
        if type(request) is dict and type(request.get("callback")) is int and request["callback"] in self._lent:
            obj, methods = self._lent[request["callback"]]
            if "getattr" in request:
                name = request["getattr"]
                if type(name) is str and name in methods:
                    return {"callable": True}
                if type(name) is str and (part := _submodule(obj, name)) is not None:
                    return {"result": self.encode(self.lend(part))}
                if type(name) is not str or not _readable(obj, name):
                    raise KernelAnswerError(f"the kernel asked for something that was not lent to it ({name!r:.40})")
                return {"result": self.encode(getattr(obj, name))}
            name = request.get("method")
            if type(name) is not str or name not in methods:
                raise KernelAnswerError(f"the kernel asked for something that was not lent to it ({name!r:.40})")
            function = obj if name == "__call__" else getattr(obj, name)
            self._lent_refs = name == "__call__"  # a lent object may be passed to a lent function only
            try:
                args, kwargs = self.decode(request.get("args", [])), self.decode(request.get("kwargs", {"dict": []}))
            finally:
                self._lent_refs = True
            if type(args) is not list or type(kwargs) is not dict:
                raise KernelAnswerError("the kernel sent a call in the wrong form")
            inputs = [t for t in tensors_in([args, kwargs]) if t.requires_grad]
            with torch.enable_grad():
                result = function(*args, **kwargs)
            handle = next(self._callbacks)
            parameters = [p for p in obj.parameters() if p.requires_grad] if isinstance(obj, nn.Module) else []
            self._graphs[handle] = (inputs, parameters, [t for t in tensors_in(result) if t.requires_grad])
            self._sending_result, self._built = True, {id(result)} if isinstance(obj, type) and isinstance(result, obj) else set()
            try:
                return {"result": self.encode(result), "handle": handle}
            finally:
                self._sending_result, self._built = False, set()
        if type(request) is dict and request.get("callback_gradient") in self._graphs:
            inputs, parameters, outputs = self._graphs[request["callback_gradient"]]
            grads = [self.decode(g) for g in request.get("grad_outputs", [])]
            if len(grads) != len(outputs) or any(
                    g is not None and (not isinstance(g, torch.Tensor) or g.shape != o.shape) for g, o in zip(grads, outputs)):
                raise KernelAnswerError("the kernel sent a gradient of the wrong shape")
            pairs = [(o, g.to(o.dtype)) for o, g in zip(outputs, grads) if g is not None]
            wanted = inputs + parameters
            found = torch.autograd.grad([o for o, _ in pairs], wanted, [g for _, g in pairs], retain_graph=True,
                                        allow_unused=True) if pairs and wanted else [None] * len(wanted)
            for parameter, gradient in zip(parameters, found[len(inputs):]):  # as a backward there would
                if gradient is not None:
                    parameter.grad = gradient if parameter.grad is None else parameter.grad + gradient
            return {"result": self.encode(list(found[:len(inputs)]))}
        raise KernelAnswerError("the kernel asked grading something it may not ask")


def _unwrapped(value):
    """What lending ``value`` lends: the model that a visible check wrapped in ``AsLent`` (``vae_helpers.lending``),
    which behaves in the notebook as a lent model does in the kernel, is lent as itself, so that its parameters
    here take the gradients the kernel sends."""
    while isinstance(value, AsLent):
        value = object.__getattribute__(value, "model")
    return value


def _raise_what_the_student_raised(answer):
    """Raise here the error the student's code raised in the kernel: as itself where a check may expect it
    (``RAISED``), else a RuntimeError that names it."""
    if "missing" in answer:
        raise NameError(f"name '{answer['missing']}' is not defined")
    if "raised" in answer:
        name, message = (shortened(str(part), 2000) for part in answer["raised"])
        if name in RAISED:
            raise RAISED[name](message)
        raise RuntimeError(f"{name}: {message}" if message else name)


def _methods_of(obj):
    """What the kernel may call of an object the hidden tests lend it: a function or class is called; a
    module is called, switched between training and evaluation, and has its gradients zeroed; an optimizer
    zeroes its gradients and steps. Nothing else: no attribute but a module's parts (``_submodule``), lent
    in turn, leads from there to the rest of the process."""
    if isinstance(obj, torch.optim.Optimizer):
        return {"zero_grad", "step"}
    if isinstance(obj, nn.Module):
        return {"__call__", "train", "zero_grad"}
    return {"__call__"} if callable(obj) else set()


def _submodule(obj, name):
    """The part ``name`` of a lent module (``model.encoder``), or None: a part is lent as its module is, so that
    code written for the notebook's model, which reaches its networks by name, works on the model a hidden test
    lends in its place. A part is the hidden tests' own object, like the module that holds it."""
    if isinstance(obj, nn.Module) and not name.startswith("_"):
        part = obj._modules.get(name)
        return part if isinstance(part, nn.Module) else None
    return None


def _parts_of(obj):
    """The names of a lent module's parts, in order, so that the kernel can index, iterate and measure it as an
    ``nn.Sequential`` (``model.classifier[-1]``); each part is lent when the kernel asks for it (``_submodule``)."""
    if not isinstance(obj, nn.Module):
        return []
    return [name for name, part in obj._modules.items() if isinstance(part, nn.Module) and not name.startswith("_")]


def _readable(obj, name):
    """True for a plain-data attribute that the hidden tests' or the visible checks' own code gave ``obj`` (its
    instance or a class they defined), as ``model.n_classes``, or a hyperparameter that one of PyTorch's layers
    keeps, as a ``Linear``'s ``out_features``: the kernel may read it. Tensors and state that torch keeps in its
    own objects stay here."""
    if name.startswith("_") or isinstance(obj, type):
        return False
    if isinstance(obj, nn.Module) and type(obj).__module__.startswith("torch.nn.") and name in vars(obj):
        value = getattr(obj, name)
        return _is_plain(value) and not any(isinstance(t, torch.Tensor) for t in tensors_in([value]))
    owners = [vars(cls) for cls in type(obj).__mro__
              if cls.__module__.startswith((HIDDEN_TEST_MODULES, VISIBLE_CHECK_MODULES))]
    owners += [vars(obj)] if owners else []  # what torch keeps in its own objects stays there
    return any(name in owner for owner in owners) and _is_plain(getattr(obj, name))


def _is_plain(value, depth=0):
    if value is None or type(value) in (bool, int, float, str) or type(value) in (torch.Tensor, nn.Parameter):
        return True
    if depth < 8 and type(value) in (list, tuple):
        return all(_is_plain(item, depth + 1) for item in value)
    if depth < 8 and type(value) is dict:
        return all(type(key) is str and _is_plain(item, depth + 1) for key, item in value.items())
    return False


class Remote:
    """An object in the student's kernel (a function, a class, a model, a method): calling it, reading or
    setting its attributes and listing its items are questions to the kernel."""

    keeps_its_arguments = True  # each call is made through called_keeping_arguments

    def __init__(self, student, target, type_name, replacing):
        object.__setattr__(self, "_remote", (student, target, type_name, replacing))

    def __call__(self, *args, **kwargs):
        return self._call(args, kwargs)

    def _largest_tensor_made(self, *args, **kwargs):
        """The call's result and the number of elements of the largest tensor one torch operation made in the
        kernel while it ran (``vae_helpers.checks.largest_tensor_made``). The kernel measures its own work, so
        a check of it catches a mistake, not a cheat."""
        return self._call(args, kwargs, measure=True)

    def _called_as_on_a_gpu(self, *args, **kwargs):
        """The call run in the kernel as it would run on a GPU (``vae_helpers.checks.called_as_on_a_gpu``): the
        kernel runs its own code so, and a tensor made there without a device comes back on the meta device."""
        return self._call(args, kwargs, as_on_a_gpu=True)

    def _called_without_gradients(self, *args, **kwargs):
        """The call run in the kernel in ``torch.inference_mode()`` (``vae_helpers.checks.called_without_gradients``)."""
        return self._call(args, kwargs, without_gradients=True)

    def _call(self, args, kwargs, **asked):
        student, target, _, replacing = self._remote
        return called_keeping_arguments(self, args, kwargs, lambda: student.ask_and_read(
            {"ask": "call", "target": target, "args": student.encode(list(args)), "kwargs": student.encode(dict(kwargs)),
             **asked}, replacing, [list(args), dict(kwargs)]))

    @property
    def __signature__(self):
        """The parameters the kernel's object takes by position, to name an argument in a message."""
        student, target, _, replacing = self._remote
        names = student.ask_and_read({"ask": "signature", "target": target}, replacing)
        if type(names) is not list or not all(type(name) is str and name.isidentifier() for name in names):
            return None
        return inspect.Signature([inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD) for name in names[:50]])

    @property
    def __name__(self):
        _, target, type_name, _ = self._remote
        return target.get("name", type_name)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        student, target, _, replacing = object.__getattribute__(self, "_remote")
        return student.ask_and_read({"ask": "getattr", "target": target, "name": name}, replacing)

    def __setattr__(self, name, value):
        student, target, _, replacing = self._remote
        student.ask_and_read({"ask": "setattr", "target": target, "name": name, "value": student.encode(value)}, replacing)

    def __iter__(self):
        student, target, _, replacing = self._remote
        return iter(student.ask_and_read({"ask": "iterate", "target": target}, replacing))

    def __repr__(self):
        return f"<{self._remote[2]} in the student's kernel>"


class LentHere:
    """An object of the judge lent to the student's code with some values sent along (``Student.lend``);
    the judge itself uses it as the object it wraps."""

    def __init__(self, obj, lent_id, values, affine):
        self.obj, self.id, self.values, self.affine = obj, lent_id, values, affine

    def __getattr__(self, name):
        return getattr(self.obj, name)


class LentCopy(LentHere):
    """A module of the judge, copied into the kernel (``Student.lend_copy``)."""

    def __init__(self, module, spec):
        super().__init__(module, spec["id"], (), {})
        self.spec = spec


@contextlib.contextmanager
def torch_state_kept():
    """The grading process's torch settings as they were, whatever a judge changed."""
    dtype, rng, grad = torch.get_default_dtype(), torch.random.get_rng_state(), torch.is_grad_enabled()
    try:
        yield
    finally:
        torch.set_default_dtype(dtype)
        torch.random.set_rng_state(rng)
        torch.set_grad_enabled(grad)


class Verdicts:
    """What the judged cells of one notebook found so far: which cell judged each student function, and
    which cells passed. A later exercise calls the student's own function of an earlier one that passed
    (it computes what grading expects) and the judge's version of one that failed: each exercise is
    graded on its own, and callbacks to the grading process are made only where needed."""

    def __init__(self):
        self.judged_by, self.passed = {}, set()


class KernelQuestions:
    """Questions to the kernel that an nbclient ``NotebookClient`` (``client``) has started."""

    def __init__(self, client, seconds=QUESTION_SECONDS, max_bytes=MAX_ANSWER_BYTES):
        self.client, self.seconds, self.max_bytes = client, seconds, max_bytes

    def __call__(self, question, answer_request=None, seconds=None):
        """The kernel's answer to ``question``, within ``seconds`` (at most the limit of one question);
        ``answer_request`` answers what the kernel asks meanwhile."""
        question = dict(question, nonce=secrets.token_hex(8))
        answers = run_sync(self._answers)(question, answer_request, min(self.seconds, seconds or self.seconds))
        if len(answers) != 1:
            raise KernelAnswerError(f"the kernel gave {len(answers)} answers to one question")
        try:
            answer = json.loads(answers[0])
        except (ValueError, TypeError):
            raise KernelAnswerError("the kernel's answer could not be read") from None
        if type(answer) is not dict or answer.get("nonce") != question["nonce"]:
            raise KernelAnswerError("the kernel answered a question it was not asked")
        return answer

    async def _answers(self, question, answer_request, seconds):
        """Ask: a short program for the kernel to run, the question itself in the request's metadata
        (a program that spelled out the inputs would take IPython long to read)."""
        client = self.client
        request = client.kc.session.msg("execute_request", {
            "code": ASKING, "silent": False, "store_history": False, "user_expressions": {},
            "allow_stdin": True, "stop_on_error": False}, metadata={QUESTION_KEY: question})
        client.kc.shell_channel.send(request)
        msg_id = request["header"]["msg_id"]
        deadline, size, answers = time.monotonic() + seconds, 0, []
        waiting = {}  # channel -> the pending read of its next message
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    await client.km.interrupt_kernel()
                    raise KernelAnswerError(f"the kernel did not answer within {seconds:.0f} s")
                for channel, read in (("iopub", client.kc.get_iopub_msg), ("stdin", client.kc.get_stdin_msg)):
                    if channel not in waiting:
                        waiting[channel] = asyncio.ensure_future(read(timeout=min(left, 1.0)))
                done, _ = await asyncio.wait(waiting.values(), return_when=asyncio.FIRST_COMPLETED)
                for channel in [c for c, read in waiting.items() if read in done]:
                    try:
                        message = waiting.pop(channel).result()
                    except Empty:
                        if not await client.km.is_alive():
                            raise DeadKernelError("the kernel died while answering a question from grading") from None
                        continue
                    size += len(json.dumps([message["content"], message.get("metadata", {})], default=str))
                    if size > self.max_bytes:  # every message counts, whatever it answers
                        await client.km.interrupt_kernel()
                        raise KernelAnswerError("the kernel answered with more output than grading reads")
                    if message["parent_header"].get("msg_id") != msg_id:
                        continue
                    if channel == "stdin":
                        self._answer_request(message, answer_request)
                        continue
                    kind, content = message["msg_type"], message["content"]
                    if kind == "display_data" and MIME_TYPE in content.get("data", {}):
                        answers.append(content["data"][MIME_TYPE])
                    elif kind == "error":
                        raise KernelAnswerError(f"the kernel raised {content.get('ename')} instead of answering")
                    elif kind == "status" and content.get("execution_state") == "idle":
                        return answers
        finally:
            for read in waiting.values():
                read.cancel()

    def _answer_request(self, message, answer_request):
        """Answer a request the kernel made on its stdin channel (``input``) while answering a question."""
        if message["msg_type"] != "input_request":
            return
        prompt = message["content"].get("prompt", "")
        try:
            if answer_request is None or len(prompt) > self.max_bytes:
                raise KernelAnswerError("the kernel asked grading something it may not ask")
            reply = answer_request(json.loads(prompt))
        except Exception as error:  # noqa: BLE001  (the kernel then raises, and the exercise fails)
            reply = {"raised": [type(error).__name__, shortened(str(error), 500)]}
        self.client.kc.input(json.dumps(reply))
