"""The judge: hidden tests decided in the grading process, on what the student's kernel computes.

Three parts, each a module: ``hidden_tests`` (where a graded cell's hidden test is and how it runs: on the
student's kernel at grading, on plain functions under pytest), ``grading_side`` (the grading process: it
asks the kernel questions and answers the kernel's requests about what it lent), ``kernel_side`` (the
student's kernel: it answers questions and makes requests). ``wire`` is the data both sides send;
``arguments_kept`` the rule every call of the student's code is judged by (it leaves its tensor arguments as
they were); ``on_a_gpu`` the stand-in GPU a device check runs a call on.

The protocol
------------
A graded cell of a solution notebook holds its visible checks and, in its hidden region, one line,
``# hidden test: test_NAME``, naming a function of the notebook's hidden test module,
``hidden_tests/NN_topic.py``. At grading:

1. The kernel runs the cell as the student was given it (visible checks, no hidden region).
2. The grading process runs the cell's visible checks, then ``test_NAME``, itself. The test's parameters
   name the student functions and classes it takes (and ``student``, the kernel, when it lends objects);
   each is a ``grading_side.Remote``, whose use is a question to the kernel.
3. A **question** (grading → kernel) is an ``execute_request`` whose code is ``ASKING`` and whose
   metadata, under ``QUESTION_KEY``, holds ``{"ask": "call" | "signature" | "getattr" | "setattr" | "iterate" |
   "gradient" | "copy_parameters", "target": {"name": ...} | {"handle": n}, ..., "nonce": ...}``.
   The kernel answers with one display output of type ``MIME_TYPE``: ``{"result": data}``,
   ``{"raised": [type, message]}`` (the student's code raised), or ``{"missing": name}``, with the nonce.
   A call's answer also holds ``"changed"``: each tensor argument the call changed in place, as it is now,
   which the grading process writes into its own tensor; a call that changed one fails, the argument named
   (``arguments_kept``: the same rule judges the visible checks' calls in the notebook), by the names the
   kernel answers to ``"signature"``. A call asked with ``"measure": true`` also answers ``"largest"``: the
   number of elements of the largest tensor one torch operation made while it ran (how a check sees that
   the work was done in chunks). A call asked with ``"as_on_a_gpu": true`` runs as on a GPU (``on_a_gpu``:
   a stand-in GPU whose values the CPU holds): a tensor made without a device is on the CPU, away from the
   inputs, and one the result holds comes back on the ``meta`` device (``vae_helpers.checks.expect_on_device``).
   A call asked with ``"without_gradients": true`` runs in ``torch.inference_mode()``, with no autograd
   (``vae_helpers.checks.called_without_gradients``: a closed form asked for, not an optimiser's answer).
   The changes, the measure, the device run and the run without gradients are the kernel's own work, done by
   code there: checks on them catch a mistake, not a cheat. Values are judged here, on expected values computed here.
4. While it answers, the kernel may make **requests** (kernel → grading) on its stdin channel
   (``input()``): an attribute or a method's result of an object lent to it, or a gradient through one
   (``{"callback": id, "getattr" | "method": name, ...}``, ``{"callback_gradient": handle, ...}``).
   Grading answers only about what it lent, on data only. A lent module offers what code written for the
   notebook's own model uses: calling it, ``train``/``eval``, ``zero_grad``, its plain attributes
   (``model.n_classes``) and its parts (``model.encoder``), each lent in turn.
5. Values travel as ``wire`` data: numbers, strings, lists, tuples, dicts (a subclass of one, such as a
   namedtuple, as that plain kind), tensors (dtype, shape, bytes;
   a tensor on the ``meta`` device as dtype and shape alone, so a test can ask for work on a device other
   than the CPU without a GPU; a large one whose entries are all the same as that one entry, what such
   entries make counting against ``MAX_ANSWER_BYTES`` as if sent whole), Normal distributions and NumPy
   numbers (as themselves: a check that wants a Python float judges at grading what it judges in the
   notebook). Any other object of the kernel travels as a
   handle and its type's name; the grading process never runs anything from the kernel.
6. The cell's outputs become what the checks printed and, if one failed, its error; nbgrader scores the
   cell from them. A kernel that does not answer within ``QUESTION_SECONDS`` (all of one cell's questions
   within ``EXERCISE_SECONDS``), answers with more than ``MAX_ANSWER_BYTES`` or answers what cannot be read
   fails that exercise with a message that says which.

So expected values, reference code and the hidden tests' source never enter the kernel, and no code in
it can change a verdict except by computing the right values.
"""
