"""Hidden tests judged in the grading process, out of reach of the student's code.

A graded cell whose first hidden region starts with ``JUDGED_HERE`` is graded this way:

- the student's kernel runs the cell as the student was given it (its visible checks, no hidden test);
- then the whole cell, hidden tests included, runs here, in the grading process. Its hidden part
  binds each student function it needs with ``name, = student_functions("name")`` (from
  ``vae_helpers.answers``): calling it asks the
  kernel to call the student's function on the inputs given and to send the result back as plain data
  (``vae_helpers.answers``), and a gradient through it asks the kernel for the gradient;
- the cell's outputs become what the judge printed and, if a check failed, its error. nbgrader scores
  the cell from those outputs, as it always does.

An object the judge passes to a student function goes with ``lend``: its numbers travel with the call,
and its methods are computed in the kernel (an affine map of those numbers) or here. A student function of
an earlier exercise that failed is replaced, while a later exercise's function runs, by the judge's own
version, which the kernel reaches through its stdin channel (``input``); one that passed is the student's.

So expected values, reference code and the hidden tests' source never enter the kernel, and no code in
it can change a verdict except by computing the right values. A kernel that does not answer in time,
answers with more than ``MAX_ANSWER_BYTES``, answers something that cannot be read, or raises instead of
answering fails the exercise, with a message that says which.
"""
import asyncio
import builtins
import contextlib
import io
import itertools
import json
import secrets
import time
from queue import Empty

import torch
from nbclient.exceptions import DeadKernelError
from nbclient.util import run_sync
from nbformat import NotebookNode
from nbgrader import utils
from nbgrader.preprocessors import ClearHiddenTests

from vae_helpers import answers
from vae_helpers.answers import MAX_ANSWER_BYTES, MIME_TYPE, QUESTION_KEY, decode, encode, tensors_in

JUDGED_HERE = "# judged in the grading process"
ASKING = "__import__('vae_helpers.answers', fromlist=['serve']).serve()"
QUESTION_SECONDS = 120


class KernelAnswerError(AssertionError):
    """The kernel did not answer a question properly; the exercise fails with this message."""


def is_judged(cell):
    """True for a graded code cell whose hidden tests are judged here (see the module)."""
    if cell.cell_type != "code" or not utils.is_grade(cell):
        return False
    start = cell.source.find(ClearHiddenTests.begin_test_delimeter.default_value)
    return start >= 0 and cell.source[start:].splitlines()[1:2] == [JUDGED_HERE]


def as_released(source):
    """A graded cell's source without its hidden tests, as the student was given it."""
    cell = NotebookNode(cell_type="code", source=source, metadata={})
    ClearHiddenTests()._remove_hidden_test_region(cell)
    return cell.source


class Student:
    """The student's kernel, as the judge sees it: functions to call, and objects of the judge lent to them."""

    def __init__(self, ask, verdicts=None, cell=None):
        self._ask, self._handles, self._callbacks = ask, itertools.count(), itertools.count()
        self._lent, self._graphs = {}, {}
        self._verdicts, self._cell = verdicts if verdicts is not None else Verdicts(), cell

    def function(self, name, replacing):
        """The student's function ``name``; during its calls, each name in ``replacing`` is the judge's
        function, unless the student's own passed the exercise that judged it."""
        self._verdicts.judged_by.setdefault(name, self._cell)
        replacing = {other: self._lend_id(function, ("__call__",)) for other, function in replacing.items()
                     if self._verdicts.judged_by.get(other) not in self._verdicts.passed}
        return StudentFunction(self, name, replacing)

    def lend(self, obj, values, methods, affine):
        return LentHere(obj, self._lend_id(obj, tuple(methods)), tuple(values), tuple(methods), dict(affine))

    def _lend_id(self, obj, methods):
        lent_id = len(self._lent)
        self._lent[lent_id] = (obj, methods)
        return lent_id

    def ask(self, question):
        return self._ask(question, self.answer)

    def answer(self, request):
        """Answer a request the kernel makes while it answers a question: a lent method's result for the
        arguments it sends, or the gradient through one. Only what was lent, on data only."""
        if type(request) is dict and type(request.get("callback")) is int and request["callback"] in self._lent:
            obj, methods = self._lent[request["callback"]]
            if request.get("method") not in methods:
                raise KernelAnswerError("the kernel asked for something that was not lent to it")
            function = obj if request["method"] == "__call__" else getattr(obj, request["method"])
            args = [decode(arg) for arg in request.get("args", [])]
            tensors, wanted = tensors_in(args), request.get("requires_grad", [])
            if type(wanted) is not list or len(wanted) != len(tensors):
                raise KernelAnswerError("the kernel asked for a gradient it did not describe")
            for tensor, wants_grad in zip(tensors, wanted):
                tensor.requires_grad_(wants_grad is True and tensor.is_floating_point())
            with torch.enable_grad():
                result = function(*args)
            handle = next(self._callbacks)
            self._graphs[handle] = (tensors, result)
            return {"result": encode(result), "handle": handle}
        if type(request) is dict and request.get("callback_gradient") in self._graphs:
            tensors, result = self._graphs[request["callback_gradient"]]
            grad_output = decode(request.get("grad_output"))
            if not isinstance(grad_output, torch.Tensor) or grad_output.shape != result.shape:
                raise KernelAnswerError("the kernel sent a gradient of the wrong shape")
            wanted = [t for t in tensors if t.requires_grad]
            found = iter(torch.autograd.grad(result, wanted, grad_output.to(result.dtype), retain_graph=True,
                                             allow_unused=True) if wanted and result.requires_grad else [None] * len(wanted))
            return {"result": encode([next(found) if t.requires_grad else None for t in tensors])}
        raise KernelAnswerError("the kernel asked grading something it may not ask")


class LentHere:
    """An object of the judge, lent to the student's functions (``vae_helpers.answers.lend``); the judge
    itself uses it as the object it wraps."""

    def __init__(self, obj, lent_id, values, methods, affine):
        self._obj, self._lent = obj, {"id": lent_id, "values": values, "methods": methods, "affine": affine}

    def __getattr__(self, name):
        return getattr(self._obj, name)

    def encoded(self):
        return {"lent": dict(self._lent, values={name: encode(getattr(self._obj, name)) for name in self._lent["values"]})}


def _encode_argument(value):
    return value.encoded() if isinstance(value, LentHere) else encode(value)


class StudentFunction:
    """Calls the student's function ``name`` in the kernel; tensors come back, gradients through them too."""

    def __init__(self, student, name, replacing):
        self._student, self.__name__, self._replacing = student, name, replacing

    def __call__(self, *args, **kwargs):
        handle = next(self._student._handles)
        wants_grad = [isinstance(a, torch.Tensor) and a.requires_grad for a in args]
        answer = self._student.ask({
            "ask": "call", "name": self.__name__, "args": [_encode_argument(a) for a in args],
            "kwargs": {name: encode(value) for name, value in kwargs.items()}, "requires_grad": wants_grad,
            "handle": handle, "replacing": self._replacing,
            "seed": int(torch.randint(2**31, (1,)))})  # the judge's own seed makes the kernel's samples
        if "missing" in answer:
            raise NameError(f"name '{self.__name__}' is not defined")
        if "raised" in answer:
            name, message = answer["raised"]
            kind = getattr(builtins, str(name), None)
            raise (kind if isinstance(kind, type) and issubclass(kind, Exception) else RuntimeError)(message)
        result = decode(answer["result"])
        inputs = [a for a, wanted in zip(args, wants_grad) if wanted]
        carried = [t for t in tensors_in(result) if t.requires_grad]
        if not (inputs and carried):
            return _with(result, {id(t): t.detach() for t in carried})
        bridged = _Gradient.apply(self._student.ask, handle, len(inputs), *inputs, *(t.detach() for t in carried))
        return _with(result, dict(zip(map(id, carried), bridged)))


class _Gradient(torch.autograd.Function):
    """The kernel's results, with the gradient of each input asked of the kernel."""

    @staticmethod
    def forward(ctx, ask, handle, n_inputs, *tensors):
        ctx.ask, ctx.handle, ctx.inputs = ask, handle, [(t.shape, t.dtype) for t in tensors[:n_inputs]]
        ctx.n_outputs = len(tensors) - n_inputs
        return tuple(t.clone() for t in tensors[n_inputs:])

    @staticmethod
    def backward(ctx, *grad_outputs):
        answer = ctx.ask({"ask": "gradient", "handle": ctx.handle, "grad_outputs": [encode(g) for g in grad_outputs]})
        gradients = decode(answer["result"])
        if type(gradients) is not list or len(gradients) != len(ctx.inputs):
            raise KernelAnswerError("the kernel answered a gradient question with something else")
        for gradient, (shape, dtype) in zip(gradients, ctx.inputs):
            if gradient is not None and (not isinstance(gradient, torch.Tensor) or gradient.shape != shape):
                raise KernelAnswerError("the kernel answered a gradient of the wrong shape")
        gradients = [g if g is None else g.to(dtype) for g in gradients]
        return (None, None, None, *gradients, *([None] * ctx.n_outputs))


def _with(value, replacements):
    """``value`` with each tensor whose id is in ``replacements`` replaced."""
    if isinstance(value, torch.Tensor):
        return replacements.get(id(value), value)
    if type(value) in (list, tuple):
        return type(value)(_with(item, replacements) for item in value)
    return value


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


def judge(source, ask, name, verdicts=None):
    """Run a graded cell's whole ``source`` here, asking the kernel through ``ask``; the cell's outputs.
    ``verdicts`` carries what earlier judged cells of the notebook found, and records this one's."""
    verdicts = verdicts if verdicts is not None else Verdicts()
    printed = io.StringIO()
    error = None
    with torch_state_kept(), contextlib.redirect_stdout(printed):
        answers.judging = Student(ask, verdicts, name)
        try:
            exec(compile(source, f"<graded cell {name}>", "exec"), {"__builtins__": builtins, "__name__": "__judge__"})
        except DeadKernelError:
            raise
        except Exception as failure:  # noqa: BLE001  (any failure of a check is the verdict)
            error = failure
        finally:
            answers.judging = None
    outputs = [NotebookNode(output_type="stream", name="stdout", text=printed.getvalue())] if printed.getvalue() else []
    if error is None:
        verdicts.passed.add(name)
    else:
        ename, evalue = type(error).__name__, str(error)
        outputs.append(NotebookNode(output_type="error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"]))
    return outputs


class KernelQuestions:
    """Questions to the kernel that an nbclient ``NotebookClient`` (``client``) has started."""

    def __init__(self, client, seconds=QUESTION_SECONDS, max_bytes=MAX_ANSWER_BYTES):
        self.client, self.seconds, self.max_bytes = client, seconds, max_bytes

    def __call__(self, question, answer_request=None):
        """The kernel's answer to ``question``; ``answer_request`` answers what the kernel asks meanwhile."""
        question = dict(question, nonce=secrets.token_hex(8))
        answers = run_sync(self._answers)(question, answer_request)
        if len(answers) != 1:
            raise KernelAnswerError(f"the kernel gave {len(answers)} answers to one question")
        try:
            answer = json.loads(answers[0])
        except ValueError:
            raise KernelAnswerError("the kernel's answer could not be read") from None
        if type(answer) is not dict or answer.get("nonce") != question["nonce"]:
            raise KernelAnswerError("the kernel answered a question it was not asked")
        return answer

    async def _answers(self, question, answer_request):
        """Ask: a short program for the kernel to run, the question itself in the request's metadata
        (a program that spelled out the inputs would take IPython long to read)."""
        client = self.client
        request = client.kc.session.msg("execute_request", {
            "code": ASKING, "silent": False, "store_history": False, "user_expressions": {},
            "allow_stdin": True, "stop_on_error": False}, metadata={QUESTION_KEY: question})
        client.kc.shell_channel.send(request)
        msg_id = request["header"]["msg_id"]
        deadline, size, answers = time.monotonic() + self.seconds, 0, []
        waiting = {}  # channel -> the pending read of its next message
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    await client.km.interrupt_kernel()
                    raise KernelAnswerError(f"the kernel did not answer within {self.seconds} s")
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
                    if message["parent_header"].get("msg_id") != msg_id:
                        continue
                    if channel == "stdin":
                        self._answer_request(message, answer_request)
                        continue
                    kind, content = message["msg_type"], message["content"]
                    size += 100 + len(content.get("text", "")) + sum(
                        len(value) for value in content.get("data", {}).values() if isinstance(value, str))
                    if size > self.max_bytes:
                        await client.km.interrupt_kernel()
                        raise KernelAnswerError("the kernel answered with more output than grading reads")
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
            reply = {"raised": [type(error).__name__, str(error)[:500]]}
        self.client.kc.input(json.dumps(reply))
