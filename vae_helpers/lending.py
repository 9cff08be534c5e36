"""``AsLent(model)``: a model as grading lends it to a student's function, so that the visible checks, run in the
notebook, train and call a model that behaves as the one the function gets at grading.

At grading a model of the grader's is *lent* to the student's code: the code can call it and its methods, switch it
with ``.train()`` and ``.eval()``, zero its gradients with ``.zero_grad()``, reach its parts by name or position
(``model.encoder``, ``model.classifier[-1]``) and read their plain settings (``model.n_classes``,
``out_features``), but ``model.parameters()`` lists nothing and its tensors cannot be read: the device and dtype
come from the tensors the function is given, and only an optimizer reaches the parameters. ``AsLent`` offers the
same here. At grading the judge lends the model an ``AsLent`` wraps (``judge.grading_side``), so its parameters
take their gradients there as the model's own.
"""
import torch
from torch import nn

WHAT_TO_USE = ("a lent model's parameters() lists nothing: call the model and its methods, and take the device "
               "and dtype from the tensors you are given")


class AsLent(nn.Module):
    """``model`` as grading lends it to your code: it can be called, its methods and parts used, switched with
    .train() and .eval(), and have its gradients zeroed with .zero_grad(), but .parameters() lists nothing. A model
    lent with only some of its attributes (01's toy model: its W, b, logvar and decoder_mean) names them in
    ``offers``: those alone are reachable, its tensors among them."""

    def __init__(self, model, offers=None):
        super().__init__()
        object.__setattr__(self, "model", model)  # a plain attribute, not a registered part: no parameters listed
        object.__setattr__(self, "offers", offers)

    def forward(self, *inputs, **kwargs):
        return self.model(*inputs, **kwargs)

    def train(self, mode=True):
        self.model.train(mode)
        return super().train(mode)

    def zero_grad(self, set_to_none=True):
        self.model.zero_grad(set_to_none)

    def __getattr__(self, name):
        """A part of the model, itself as lent; a plain setting (a number, a string) or a method of the model; not
        its tensors."""
        if name.startswith("_") or name == "model":
            return super().__getattr__(name)
        offers = object.__getattribute__(self, "offers")
        if offers is not None:
            if name not in offers:
                raise AttributeError(f"the model lent to your code has no attribute {name!r}: it offers "
                                     f"{', '.join(offers)}")
            return getattr(object.__getattribute__(self, "model"), name)
        try:
            value = getattr(object.__getattribute__(self, "model"), name)
        except AttributeError:  # named as the model lent to the code, not as the class that stands in for it
            raise AttributeError(f"the model lent to your code has no attribute {name!r}") from None
        if isinstance(value, nn.Module):
            return AsLent(value)
        if isinstance(value, torch.Tensor):
            raise AttributeError(f"{name}: a lent model's tensors cannot be read; {WHAT_TO_USE}")
        return value

    def __bool__(self):
        return True

    def __len__(self):  # its parts, as an nn.Sequential counts them
        return len(self.model._modules)

    def __iter__(self):
        return (AsLent(part) for part in self.model._modules.values())

    def __getitem__(self, index):
        part = self.model[index]
        return AsLent(part) if isinstance(part, nn.Module) else part
