"""The classic mistakes planted into the solutions, and correct answers written another way, as data: the
tests judge each (tests/test_grading_catches_mistakes.py, tests/test_hidden_tests.py) and the grading
benchmark enrols them as students (bench/grading.py)."""

# (assignment, mistake, solution cell, correct code, mistaken code, test cell that must lose points)
MISTAKES = [
    ("01_elbo", "kl-sign-flipped", "kl_to_standard_normal",
     "return 0.5 * (logvar.exp()", "return -0.5 * (logvar.exp()", "test_kl_to_standard_normal"),
    ("01_elbo", "kl-averaged-over-latents", "kl_to_standard_normal",
     "- 1.0 - logvar).sum(dim=1)", "- 1.0 - logvar).mean(dim=1)", "test_kl_to_standard_normal"),
    ("01_elbo", "variance-used-as-std", "reparameterize",
     "std = torch.exp(0.5 * logvar)", "std = torch.exp(logvar)", "test_reparameterize"),
    ("01_elbo", "sample-without-gradient", "reparameterize",
     "return mu + std * torch.randn_like(std)", "return torch.distributions.Normal(mu, std).sample()",
     "test_reparameterize"),
    ("01_elbo", "torch-normal", "reparameterize",
     "return mu + std * torch.randn_like(std)", "return torch.normal(mu, std)", "test_reparameterize"),
    # the noise made on the CPU, whatever the device of mu: a GPU's tensors then fail (the checks run the call as on a GPU)
    ("01_elbo", "noise-made-on-the-cpu", "reparameterize",
     "return mu + std * torch.randn_like(std)", "return mu + std * torch.randn(std.shape, dtype=std.dtype)",
     "test_reparameterize"),
    # the same CPU noise behind a torch.distributions object, which validates its arguments by reading their values
    ("01_elbo", "noise-made-on-the-cpu-behind-a-normal", "reparameterize",
     "return mu + std * torch.randn_like(std)",
     "q = torch.distributions.Normal(mu, std)\n    return q.loc + q.scale * torch.randn(q.loc.shape)",
     "test_reparameterize"),
    # a standard normal's draws: its loc and scale, made of plain numbers, are 0-dim CPU tensors, and so are its draws
    ("01_elbo", "standard-normal-draws-on-the-cpu", "reparameterize",
     "return mu + std * torch.randn_like(std)",
     "return mu + std * torch.distributions.Normal(0.0, 1.0).sample(std.shape)", "test_reparameterize"),
    ("01_elbo", "one-noise-for-all-entries", "reparameterize",
     "return mu + std * torch.randn_like(std)", "return mu + std * torch.randn(1)", "test_reparameterize"),
    ("01_elbo", "pixels-averaged", "log_likelihoods",
     "return per_pixel.flatten(1).sum(dim=1)", "return per_pixel.flatten(1).mean(dim=1)", "test_log_likelihoods"),
    ("01_elbo", "probabilities-passed-as-logits", "log_likelihoods",
     "binary_cross_entropy_with_logits(logits, x,", "binary_cross_entropy_with_logits(torch.sigmoid(logits), x,",
     "test_log_likelihoods"),
    ("01_elbo", "bernoulli-from-sigmoid-unstable", "log_likelihoods",
     'per_pixel = -F.binary_cross_entropy_with_logits(logits, x, reduction="none")',
     "per_pixel = x * torch.log(torch.sigmoid(logits)) + (1 - x) * torch.log(1 - torch.sigmoid(logits))",
     "test_log_likelihoods"),
    ("01_elbo", "bernoulli-probability-offset-from-zero", "log_likelihoods",
     'per_pixel = -F.binary_cross_entropy_with_logits(logits, x, reduction="none")',
     "p = torch.sigmoid(logits)\n    per_pixel = x * torch.log(p + 1e-12) + (1 - x) * torch.log(1 - p + 1e-12)",
     "test_log_likelihoods"),
    # the variance's term detached, and the KL computed in place on exp's output, which autograd keeps (review 16 A)
    ("01_elbo", "kl-variance-detached", "kl_to_standard_normal",
     "return 0.5 * (logvar.exp() + mu.pow(2) - 1.0 - logvar).sum(dim=1)",
     "return 0.5 * (logvar.detach().exp() + mu.pow(2) - 1.0 - logvar).sum(dim=1)", "test_kl_to_standard_normal"),
    ("01_elbo", "kl-in-place-on-the-exponential", "kl_to_standard_normal",
     "return 0.5 * (logvar.exp() + mu.pow(2) - 1.0 - logvar).sum(dim=1)",
     "terms = logvar.exp()\n    terms.add_(mu * mu).sub_(1.0).sub_(logvar)\n    return 0.5 * terms.sum(dim=1)",
     "test_kl_to_standard_normal"),
    # z drawn from the prior, not from q (review 16 A)
    ("01_elbo", "elbo-z-from-the-prior", "elbo",
     "model.decoder_mean(reparameterize(q_mu, q_logvar))", "model.decoder_mean(torch.randn_like(q_mu))", "test_elbo"),
    # review 16 A: the posterior mean in eval mode (the older examples' idiom), a mean rebuilt without its gradient,
    # one noise for every image
    ("02_dense_vae", "forward-posterior-mean-in-eval-mode", "dense_vae",
     "        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)\n",
     "        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu) if self.training else mu\n", "test_dense_vae"),
    ("02_dense_vae", "gaussian-nll-mean-rebuilt-with-torch-tensor", "gaussian_nll",
     "    scale = log_scale.exp().clamp(min=min_scale)\n    per_pixel",
     "    scale = log_scale.exp().clamp(min=min_scale)\n    mean = torch.tensor(mean)\n    per_pixel", "test_gaussian_nll"),
    ("02_dense_vae", "forward-one-noise-for-every-image", "dense_vae",
     "torch.exp(0.5 * logvar) * torch.randn_like(mu)\n        return self.decode(z)",
     "torch.exp(0.5 * logvar) * torch.randn_like(mu[0])\n        return self.decode(z)", "test_dense_vae"),
    ("02_dense_vae", "train-one-step-after-the-loop", "train_epoch",
     "        loss.backward()\n        optimizer.step()\n        total += loss.item() * len(x)\n"
     "        count += len(x)\n    return total / count",
     "        loss.backward()\n        total += loss.item() * len(x)\n        count += len(x)\n"
     "    optimizer.step()\n    return total / count", "test_train_epoch"),
    # review 16 B: the softmax over the second dimension, which is the last only for 2-D logits
    ("05_categorical_clustering", "gumbel-softmax-over-dim-1", "gumbel_softmax_sample", "/ tau, dim=-1)", "/ tau, dim=1)",
     "test_gumbel_softmax_sample"),
    ("06_collapse_and_inference", "grid-rows-reversed", "prior_quantile_grid",
     "z1 = v.expand(n, n)", "z1 = v.flip(0).expand(n, n)", "test_prior_quantile_grid"),
    ("06_collapse_and_inference", "aggregate-averaged-over-the-codes", "log_aggregate_posterior",
     "- math.log(len(mu))", "- math.log(len(z))", "test_log_aggregate_posterior"),
    ("06_collapse_and_inference", "refine-returns-logvar-first", "refine_posterior",
     "return mu.detach(), logvar.detach()", "return logvar.detach(), mu.detach()", "test_refine_posterior"),
    ("05_beta_vae", "class-information-one-class-too-few", "class_information",
     "n_classes = int(labels.max()) + 1", "n_classes = int(labels.max())", "test_class_information"),
    ("05_categorical_clustering", "capacity-shares-over-the-batch", "capacity_penalty",
     "log_shares = torch.logsumexp(F.log_softmax(category_logits, dim=-1), dim=0) - math.log(len(category_logits))",
     "log_shares = F.softmax(category_logits, dim=0).mean(1).log()", "test_capacity_penalty"),
    # another non-linearity where the ReLU stands, and a dropout in the encoder (review 16 A, B)
    ("02_dense_vae", "encoder-tanh-for-relu", "dense_vae",
     "nn.Linear(image_size, hidden_dim), nn.ReLU())", "nn.Linear(image_size, hidden_dim), nn.Tanh())", "test_dense_vae"),
    ("02_dense_vae", "encoder-with-dropout", "dense_vae",
     "nn.Linear(image_size, hidden_dim), nn.ReLU())", "nn.Linear(image_size, hidden_dim), nn.ReLU(), nn.Dropout(0.5))",
     "test_dense_vae"),
    # log_det computed from a detached z: f is right, and the flow posterior's mean and variance get no gradient from
    # log_det (review 17 C)
    ("07_richer_posteriors_and_priors", "planar-log-det-of-a-detached-z", "planar_flow",
     "    log_det = torch.log((1 + (1 - h ** 2) * (w * u).sum(-1)).abs())",
     "    h_ld = torch.tanh((z.detach() * w).sum(-1) + b)\n    log_det = torch.log((1 + (1 - h_ld ** 2) * (w * u).sum(-1)).abs())",
     "test_planar_flow"),
    # U(h) written out with the expectation over z taken at q(z | h, y)'s mean, a draw only where q is a point
    # (review 17 C)
    ("08_semi_supervised", "unlabelled-z-at-its-mean", "unlabelled_bound",
     "    table = labelled_bound(model, h.repeat_interleave(k, dim=0), classes).view(len(h), k)\n",
     "    hh, one_hot = h.repeat_interleave(k, dim=0), F.one_hot(classes, k).to(h.dtype)\n"
     "    mu, logvar = model.encode(hh, one_hot)\n    mean, h_logvar = model.decode(mu, one_hot)\n"
     "    log_density = -0.5 * (math.log(2 * math.pi) + h_logvar + (hh - mean) ** 2 / h_logvar.exp()).sum(1)\n"
     "    kl = 0.5 * (logvar.exp() + mu.pow(2) - 1.0 - logvar).sum(1)\n"
     "    table = (log_density - kl - math.log(k)).view(len(h), k)\n",
     "test_unlabelled_bound"),
    # review 17 B: a batch of one squeezed to a vector; float labels refused by a list of two dtypes
    ("04_conditional_vae", "one-hot-squeezed", "one_hot",
     "return F.one_hot(labels.long(), n_classes).float()", "return F.one_hot(labels.long(), n_classes).float().squeeze()",
     "test_one_hot"),
    ("04_conditional_vae", "one-hot-refuses-two-float-dtypes", "one_hot",
     "if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:",
     "if labels.dtype in (torch.float32, torch.bool):", "test_one_hot"),
    # the refinement started from the prior, not from the encoder's q it is given (review 17 B)
    ("06_collapse_and_inference", "refine-from-the-prior", "refine_posterior",
     "    mu = mu.detach().clone().requires_grad_()\n", "    mu = torch.zeros_like(mu, requires_grad=True)\n",
     "test_refine_posterior"),
    # the capacity term without its absolute value: a KL above the capacity earns a negative cost (review 17 B)
    ("05_categorical_clustering", "capacity-without-the-absolute-value", "capacity_penalty",
     "return gamma * (kl.mean() - capacity).abs() + gamma * balance",
     "return gamma * (capacity - kl.mean()) + gamma * balance", "test_capacity_penalty"),
    # the bins' width unguarded: a constant dimension's 0 / 0 is NaN, whose integer is no bin (review 17 B)
    ("05_beta_vae", "class-information-width-unguarded", "class_information",
     "width = ((high - low) / n_bins).clamp(min=torch.finfo(z.dtype).tiny)", "width = (high - low) / n_bins",
     "test_class_information"),
    # a dropout in the convolutional encoder: q's loc is no longer the mu of an earlier call (review 17 A)
    ("03_conv_vae", "encoder-with-dropout", "conv_encoder",
     "            nn.Flatten(),\n", "            nn.Flatten(), nn.Dropout(0.2),\n", "test_conv_encoder"),
    # review 17: mistakes whose hints named another cause (the checks now name theirs: NAMED_BY_THE_VISIBLE_CHECKS)
    ("01_elbo", "noise-divided-by-the-std", "reparameterize",
     "return mu + std * torch.randn_like(std)", "return mu + torch.randn_like(std) / std", "test_reparameterize"),
    ("01_elbo", "gaussian-averaged-over-entries", "log_likelihoods",
     "return per_entry.expand_as(x).flatten(1).sum(dim=1)", "return per_entry.expand_as(x).flatten(1).mean(dim=1)",
     "test_log_likelihoods"),
    ("01_elbo", "gaussian-squared-error-not-halved", "log_likelihoods",
     "per_entry = -0.5 * (math.log(2 * math.pi) + logvar + (x - mean) ** 2 / logvar.exp())",
     "per_entry = -0.5 * (math.log(2 * math.pi) + logvar) - (x - mean) ** 2 / logvar.exp()", "test_log_likelihoods"),
    ("05_categorical_clustering", "gumbel-noise-added-in-place", "gumbel_softmax_sample",
     "    return F.softmax((logits + gumbel) / tau, dim=-1)", "    logits += gumbel\n    return F.softmax(logits / tau, dim=-1)",
     "test_gumbel_softmax_sample"),
    ("06_collapse_and_inference", "aggregate-log-variance-whole", "log_aggregate_posterior",
     "    q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))\n"
     "    return torch.cat([torch.logsumexp(q.log_prob(part.unsqueeze(1)).sum(-1), dim=1)",
     "    def log_density(part):\n"
     "        return -0.5 * (math.log(2 * math.pi) + 2 * logvar + (part.unsqueeze(1) - mu) ** 2 / logvar.exp())\n"
     "    return torch.cat([torch.logsumexp(log_density(part).sum(-1), dim=1)", "test_log_aggregate_posterior"),
    ("10_colour_images", "dlogistic-without-the-width-factor", "discretised_logistic_log_prob",
     "inside = F.logsigmoid(upper) + F.logsigmoid(-lower) + torch.log(-torch.expm1(lower - upper))",
     "inside = F.logsigmoid(upper) + F.logsigmoid(-lower)", "test_discretised_logistic_log_prob"),
    # float labels refused by their values, not their dtype: 1.0 taken as a label (review 17 B)
    ("04_conditional_vae", "one-hot-float-labels-by-value", "one_hot",
     "if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:",
     "if (labels != labels.long()).any() or labels.dtype == torch.bool:", "test_one_hot"),
    # the entropy's log q floored at 0.05: finite where the classifier is sure, and off where it is confident
    # (review 18 C)
    ("08_semi_supervised", "unlabelled-log-of-a-floored-probability", "unlabelled_bound",
     "    log_q = F.log_softmax(model.classify(h), dim=1)\n    return (log_q.exp() * (table - log_q)).sum(1)",
     "    q = F.softmax(model.classify(h), dim=1)\n    return (q * (table - torch.log(q.clamp_min(0.05)))).sum(1)",
     "test_unlabelled_bound"),
    # a leaky ReLU, as homogeneous as a ReLU: its hidden units far below 0 still let a part through (review 17 A)
    ("02_dense_vae", "decoder-leaky-relu-for-relu", "dense_vae",
     "nn.Linear(latent_dim, hidden_dim), nn.ReLU()", "nn.Linear(latent_dim, hidden_dim), nn.LeakyReLU(0.2)",
     "test_dense_vae"),
    ("04_conditional_vae", "encoder-tanh-for-relu", "conditional_vae",
     "nn.Linear(image_size + n_classes, hidden_dim), nn.ReLU())", "nn.Linear(image_size + n_classes, hidden_dim), nn.Tanh())",
     "test_conditional_vae"),
    # a mean rebuilt with torch.tensor: a copy without its gradient, so the decoder is not trained (review 15 A)
    ("01_elbo", "gaussian-mean-rebuilt-with-torch-tensor", "log_likelihoods",
     "device=x.device)\n    per_entry",
     "device=x.device)\n    mean = torch.tensor(mean, dtype=x.dtype, device=x.device)\n    per_entry",
     "test_log_likelihoods"),
    ("01_elbo", "bernoulli-logits-detached", "log_likelihoods",
     'per_pixel = -F.binary_cross_entropy_with_logits(logits, x, reduction="none")',
     'per_pixel = -F.binary_cross_entropy_with_logits(logits.detach(), x, reduction="none")', "test_log_likelihoods"),
    # the k copies laid out one batch after another (repeat), their weights read as each observation's k together
    ("01_elbo", "iwae-copies-read-in-the-other-layout", "importance_weighted_bound",
     "    log_weights = []\n    for _ in range(k):\n        z = reparameterize(q_mu, q_logvar)\n"
     "        log_joint = gaussian_log_likelihood(x, model.decoder_mean(z), model.logvar) \\\n"
     "            + gaussian_log_likelihood(z, 0.0, 0.0)\n"
     "        log_weights.append(log_joint - gaussian_log_likelihood(z, q_mu, q_logvar))\n"
     "    return torch.logsumexp(torch.stack(log_weights), dim=0) - math.log(k)",
     "    mu, logvar, copies = q_mu.repeat(k, 1), q_logvar.repeat(k, 1), x.repeat(k, 1)\n"
     "    z = reparameterize(mu, logvar)\n"
     "    log_weights = (gaussian_log_likelihood(copies, model.decoder_mean(z), model.logvar)\n"
     "                   + gaussian_log_likelihood(z, 0.0, 0.0) - gaussian_log_likelihood(z, mu, logvar))\n"
     "    return torch.logsumexp(log_weights.view(len(x), k), dim=1) - math.log(k)", "test_importance_weighted_bound"),
    ("01_elbo", "gaussian-std-for-variance", "log_likelihoods",
     "(x - mean) ** 2 / logvar.exp()", "(x - mean) ** 2 / (0.5 * logvar).exp()", "test_log_likelihoods"),
    ("01_elbo", "elbo-kl-added", "elbo",
     "return reconstruction - kl_to_standard_normal", "return reconstruction + kl_to_standard_normal", "test_elbo"),
    ("01_elbo", "elbo-at-posterior-mean", "elbo",
     "model.decoder_mean(reparameterize(q_mu, q_logvar))", "model.decoder_mean(q_mu)", "test_elbo"),
    ("01_elbo", "elbo-draws-cut-from-the-graph", "elbo",
     "model.decoder_mean(reparameterize(q_mu, q_logvar))",
     "model.decoder_mean(reparameterize(q_mu, q_logvar).detach())", "test_elbo"),
    ("01_elbo", "iw-mean-of-log-weights", "importance_weighted_bound",
     "return torch.logsumexp(torch.stack(log_weights), dim=0) - math.log(k)",
     "return torch.stack(log_weights).mean(dim=0)", "test_importance_weighted_bound"),
    ("01_elbo", "iw-without-logsumexp", "importance_weighted_bound",
     "return torch.logsumexp(torch.stack(log_weights), dim=0) - math.log(k)",
     "return torch.log(torch.stack(log_weights).exp().mean(dim=0))", "test_importance_weighted_bound"),
    ("01_elbo", "iw-missing-log-k", "importance_weighted_bound",
     "return torch.logsumexp(torch.stack(log_weights), dim=0) - math.log(k)",
     "return torch.logsumexp(torch.stack(log_weights), dim=0)", "test_importance_weighted_bound"),
    ("01_elbo", "kl-squares-mu-in-place", "kl_to_standard_normal", "mu.pow(2)", "mu.pow_(2)",
     "test_kl_to_standard_normal"),
    ("01_elbo", "one-noise-per-row", "reparameterize",
     "return mu + std * torch.randn_like(std)", "return mu + std * torch.randn(len(std), 1, device=std.device)",
     "test_reparameterize"),
    ("01_elbo", "noise-seeded-at-each-call", "reparameterize",
     "std = torch.exp(0.5 * logvar)", "torch.manual_seed(0)\n    std = torch.exp(0.5 * logvar)", "test_reparameterize"),
    # exp(1000) is inf even in float64
    ("01_elbo", "bernoulli-softplus-overflows", "log_likelihoods",
     'per_pixel = -F.binary_cross_entropy_with_logits(logits, x, reduction="none")',
     "per_pixel = x * logits - torch.log1p(logits.exp())", "test_log_likelihoods"),
    # the n_samples draws' log-likelihoods added up instead of averaged
    ("01_elbo", "elbo-samples-summed", "elbo", "    ]).mean(dim=0)", "    ]).sum(dim=0)", "test_elbo"),
    # review 11 (A): the decoder's variance forgotten (1), close in value to its log-variance exponentiated
    ("01_elbo", "elbo-decoder-of-variance-1", "elbo",
     "model.decoder_mean(reparameterize(q_mu, q_logvar)), model.logvar)",
     "model.decoder_mean(reparameterize(q_mu, q_logvar)), 0.0)", "test_elbo"),
    # the batch's size written in the code
    ("02_dense_vae", "vae-loss-divided-by-a-fixed-batch-size", "vae_loss",
     'reconstruction = F.binary_cross_entropy_with_logits(logits, targets, reduction="none").flatten(1).sum(1).mean()',
     'reconstruction = F.binary_cross_entropy_with_logits(logits, targets, reduction="sum") / 128', "test_vae_loss"),
    ("03_conv_vae", "encoder-features-reshaped-by-a-fixed-batch-size", "conv_encoder",
     "h = self.features(x)\n", "h = self.features(x).view(128, -1)\n", "test_conv_encoder"),
    # one mean KL for the whole batch, broadcast back to each row
    ("01_elbo", "kl-batch-mean-broadcast", "kl_to_standard_normal",
     "return 0.5 * (logvar.exp() + mu.pow(2) - 1.0 - logvar).sum(dim=1)",
     "return 0.5 * (logvar.exp() + mu.pow(2) - 1.0 - logvar).sum(dim=1).mean().expand(len(mu))",
     "test_kl_to_standard_normal"),
    ("01_elbo", "gaussian-summed-over-last-dimension", "log_likelihoods",
     "return per_entry.expand_as(x).flatten(1).sum(dim=1)", "return per_entry.expand_as(x).sum(-1)",
     "test_log_likelihoods"),
    ("01_elbo", "iw-one-z-for-all-weights", "importance_weighted_bound",
     "    for _ in range(k):\n        z = reparameterize(q_mu, q_logvar)",
     "    z = reparameterize(q_mu, q_logvar)\n    for _ in range(k):", "test_importance_weighted_bound"),
    ("01_elbo", "iw-largest-weight", "importance_weighted_bound",
     "return torch.logsumexp(torch.stack(log_weights), dim=0) - math.log(k)",
     "return torch.stack(log_weights).max(dim=0).values", "test_importance_weighted_bound"),
    # the checks' hints name the term: the factor 1/2, the square of mu, and the log-variance's own factor 1/2
    ("01_elbo", "kl-without-its-half", "kl_to_standard_normal",
     "return 0.5 * (logvar.exp()", "return (logvar.exp()", "test_kl_to_standard_normal"),
    ("01_elbo", "kl-mu-not-squared", "kl_to_standard_normal",
     "+ mu.pow(2) - 1.0", "+ mu - 1.0", "test_kl_to_standard_normal"),
    # float32 arithmetic in float64's exercises: right to 1e-6 near the mean, a few 1e-4 off where |log p| is thousands
    ("01_elbo", "gaussian-logvar-made-float32", "log_likelihoods",
     "logvar = torch.as_tensor(logvar, dtype=x.dtype, device=x.device)",
     "logvar = torch.as_tensor(logvar, dtype=torch.float, device=x.device)", "test_log_likelihoods"),
    ("01_elbo", "iw-log-weights-in-float32", "importance_weighted_bound",
     "return torch.logsumexp(torch.stack(log_weights), dim=0) - math.log(k)",
     "return (torch.logsumexp(torch.stack(log_weights).float(), dim=0) - math.log(k)).double()",
     "test_importance_weighted_bound"),
    # the notebook's toy model used beyond what grading lends (W, b, logvar, decoder_mean): its exact posterior and
    # evidence
    ("01_elbo", "elbo-from-the-toys-exact-posterior", "elbo",
     "return reconstruction - kl_to_standard_normal(q_mu, q_logvar)",
     "pm, plv = model.posterior(x)\n"
     "    kl = 0.5 * ((q_logvar.exp() + (q_mu - pm) ** 2) / plv.exp() - 1 + plv - q_logvar).sum(1)\n"
     "    return model.log_evidence(x) - kl", "test_elbo"),
    ("01_elbo", "iw-the-toys-evidence", "importance_weighted_bound",
     "return torch.logsumexp(torch.stack(log_weights), dim=0) - math.log(k)", "return model.log_evidence(x)",
     "test_importance_weighted_bound"),
    ("01_elbo", "gaussian-logvar-not-halved", "log_likelihoods",
     "per_entry = -0.5 * (math.log(2 * math.pi) + logvar + (x - mean) ** 2 / logvar.exp())",
     "per_entry = -0.5 * math.log(2 * math.pi) - logvar - (x - mean) ** 2 / (2 * logvar.exp())", "test_log_likelihoods"),
    ("02_dense_vae", "logvar-head-rectified", "dense_vae",
     "return self.to_mu(h), self.to_logvar(h)", "return self.to_mu(h), torch.relu(self.to_logvar(h))", "test_dense_vae"),
    # the capacity compared with the KL of the batch's shares, where it is compared with the images' mean KL
    ("05_categorical_clustering", "capacity-of-the-shares", "capacity_penalty",
     "return gamma * (kl.mean() - capacity).abs() + gamma * balance",
     "return gamma * (balance - capacity).abs() + gamma * balance", "test_capacity_penalty"),
    # a ValueError that does not say which argument is at fault, where the exercise asks it to
    ("05_beta_vae", "warm-up-error-names-nothing", "kl_weight",
     'raise ValueError(f"kl_weight: step and warmup_steps must be >= 0, got step={step}, "\n'
     '                         f"warmup_steps={warmup_steps}.")', 'raise ValueError("invalid input")', "test_kl_weight"),
    # a ValueError for a negative step that names only warmup_steps, in which "step" is no word of its own
    ("05_beta_vae", "warm-up-error-names-only-the-length", "kl_weight",
     'raise ValueError(f"kl_weight: step and warmup_steps must be >= 0, got step={step}, "\n'
     '                         f"warmup_steps={warmup_steps}.")',
     'raise ValueError(f"kl_weight: warmup_steps must be >= 0, got warmup_steps={warmup_steps}.")', "test_kl_weight"),
    ("02_dense_vae", "mu-head-rectified", "dense_vae",
     "return self.to_mu(h), self.to_logvar(h)", "return torch.relu(self.to_mu(h)), self.to_logvar(h)", "test_dense_vae"),
    ("02_dense_vae", "kl-sign-flipped", "vae_loss",
     "kl = 0.5 * (logvar.exp()", "kl = -0.5 * (logvar.exp()", "test_vae_loss"),
    ("02_dense_vae", "kl-summed-over-batch", "vae_loss",
     "- 1.0 - logvar).sum(1).mean()", "- 1.0 - logvar).sum(1).sum()", "test_vae_loss"),
    ("02_dense_vae", "pixels-averaged", "vae_loss",
     'reduction="none").flatten(1).sum(1).mean()', 'reduction="none").flatten(1).mean(1).mean()', "test_vae_loss"),
    ("02_dense_vae", "probabilities-passed-as-logits", "vae_loss",
     "binary_cross_entropy_with_logits(logits, targets", "binary_cross_entropy_with_logits(torch.sigmoid(logits), targets",
     "test_vae_loss"),
    ("02_dense_vae", "variance-used-as-std", "dense_vae",
     "z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)", "z = mu + torch.exp(logvar) * torch.randn_like(mu)", "test_dense_vae"),
    ("02_dense_vae", "sample-without-gradient", "dense_vae",
     "z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)", "z = torch.distributions.Normal(mu, torch.exp(0.5 * logvar)).sample()", "test_dense_vae"),
    ("02_dense_vae", "torch-normal", "dense_vae",
     "z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)", "z = torch.normal(mu, torch.exp(0.5 * logvar))", "test_dense_vae"),
    ("02_dense_vae", "sigmoid-in-decoder", "dense_vae",
     "return self.decoder(z)", "return torch.sigmoid(self.decoder(z))", "test_dense_vae"),
    ("02_dense_vae", "decoder-wrong-shape", "dense_vae",
     "return self.decoder(z)", "return self.decoder(z).view(-1, 1, 28, 28)", "test_dense_vae"),
    ("02_dense_vae", "logvar-head-is-mu-head", "dense_vae",
     "return self.to_mu(h), self.to_logvar(h)", "return self.to_mu(h), self.to_mu(h)", "test_dense_vae"),
    ("02_dense_vae", "one-noise-per-image", "dense_vae",
     "z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)",
     "z = mu + torch.exp(0.5 * logvar) * torch.randn(len(mu), 1, device=mu.device)", "test_dense_vae"),
    ("02_dense_vae", "train-epoch-returns-tensor", "train_epoch",
     "total += loss.item() * len(x)", "total += loss.detach() * len(x)", "test_train_epoch"),
    ("02_dense_vae", "train-epoch-steps-on-the-summed-loss", "train_epoch",
     "        loss.backward()\n", "        (loss * len(x)).backward()\n", "test_train_epoch"),
    ("02_dense_vae", "train-epoch-zeroes-between-backward-and-step", "train_epoch",
     "        optimizer.zero_grad()\n        loss.backward()\n",
     "        loss.backward()\n        optimizer.zero_grad()\n", "test_train_epoch"),
    ("02_dense_vae", "no-optimizer-step", "train_epoch",
     "        optimizer.step()\n", "", "test_train_epoch"),
    ("02_dense_vae", "no-zero-grad", "train_epoch",
     "        optimizer.zero_grad()\n", "", "test_train_epoch"),
    ("02_dense_vae", "train-epoch-ignores-beta", "train_epoch",
     "vae_loss(logits, x, mu, logvar, beta)", "vae_loss(logits, x, mu, logvar)", "test_train_epoch"),
    ("02_dense_vae", "encoder-without-relu", "dense_vae",
     "nn.Linear(image_size, hidden_dim), nn.ReLU())", "nn.Linear(image_size, hidden_dim))", "test_dense_vae"),
    ("02_dense_vae", "decoder-without-relu", "dense_vae",
     "nn.Linear(latent_dim, hidden_dim), nn.ReLU(), nn.Linear", "nn.Linear(latent_dim, hidden_dim), nn.Linear",
     "test_dense_vae"),
    ("02_dense_vae", "bce-of-a-sigmoid", "vae_loss",
     'F.binary_cross_entropy_with_logits(logits, targets, reduction="none")',
     'F.binary_cross_entropy(torch.sigmoid(logits), targets, reduction="none")', "test_vae_loss"),
    ("02_dense_vae", "gaussian-log-scale-as-log-variance", "gaussian_nll",
     "scale = log_scale.exp().clamp(min=min_scale)", "scale = (0.5 * log_scale).exp().clamp(min=min_scale)",
     "test_gaussian_nll"),
    ("02_dense_vae", "gaussian-without-log-scale", "gaussian_nll",
     "per_pixel = scale.log() + 0.5 * math.log(2 * math.pi) +", "per_pixel = 0.5 * math.log(2 * math.pi) +",
     "test_gaussian_nll"),
    ("02_dense_vae", "gaussian-floor-ignored", "gaussian_nll",
     "scale = log_scale.exp().clamp(min=min_scale)", "scale = log_scale.exp()", "test_gaussian_nll"),
    ("02_dense_vae", "gaussian-soft-floor", "gaussian_nll",
     "scale = log_scale.exp().clamp(min=min_scale)", "scale = min_scale + log_scale.exp()", "test_gaussian_nll"),
    ("02_dense_vae", "gaussian-pixels-averaged", "gaussian_nll",
     "return per_pixel.sum(1)", "return per_pixel.mean(1)", "test_gaussian_nll"),
    # forward computes what encode and decode compute instead of calling them: grading replaces them
    ("02_dense_vae", "forward-bypasses-encode-and-decode", "dense_vae",
     "mu, logvar = self.encode(x)\n        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)\n"
     "        return self.decode(z), mu, logvar",
     "h = self.hidden(x)\n        mu, logvar = self.to_mu(h), self.to_logvar(h)\n"
     "        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)\n        return self.decoder(z), mu, logvar",
     "test_dense_vae"),
    ("02_dense_vae", "loss-detached-from-logits", "vae_loss",
     "binary_cross_entropy_with_logits(logits, targets", "binary_cross_entropy_with_logits(logits.detach(), targets",
     "test_vae_loss"),
    # the last batch's loss for the epoch's mean
    ("02_dense_vae", "train-epoch-returns-the-last-loss", "train_epoch",
     "    return total / count", "    return loss.item()", "test_train_epoch"),
    # beta forgotten in the loss
    ("04_conditional_vae", "loss-without-beta", "cvae_loss",
     'return {"loss": reconstruction + beta * kl,', 'return {"loss": reconstruction + kl,', "test_cvae_loss"),
    ("02_dense_vae", "train-epoch-flattens-to-784", "train_epoch",
     "logits, mu, logvar = model(x)", "x = x.view(-1, 784)\n        logits, mu, logvar = model(x)", "test_train_epoch"),
    ("02_dense_vae", "train-epoch-unweighted-mean", "train_epoch",
     "total += loss.item() * len(x)\n        count += len(x)", "total += loss.item()\n        count += 1",
     "test_train_epoch"),
    # what a lent model cannot give: its parameters
    ("02_dense_vae", "train-epoch-device-from-parameters", "train_epoch",
     "logits, mu, logvar = model(x)", "x = x.to(next(model.parameters()).device)\n        logits, mu, logvar = model(x)",
     "test_train_epoch"),
    ("02_dense_vae", "train-epoch-zeroes-gradients-by-hand", "train_epoch",
     "optimizer.zero_grad()", "for p in model.parameters():\n            p.grad = None", "test_train_epoch"),
    ("02_dense_vae", "gaussian-floor-in-place", "gaussian_nll",
     "scale = log_scale.exp().clamp(min=min_scale)", "scale = log_scale.exp()\n    scale.clamp_(min=min_scale)",
     "test_gaussian_nll"),
    ("02_dense_vae", "gaussian-floor-with-python-max", "gaussian_nll",
     "scale = log_scale.exp().clamp(min=min_scale)",
     "scale = log_scale.exp()\n    if min_scale > 0:\n        scale = max(scale, torch.tensor(min_scale))", "test_gaussian_nll"),
    ("02_dense_vae", "gaussian-floor-with-if", "gaussian_nll",
     "scale = log_scale.exp().clamp(min=min_scale)",
     "scale = log_scale.exp()\n    if min_scale and scale < min_scale:\n        scale = torch.full_like(scale, min_scale)",
     "test_gaussian_nll"),
    ("02_dense_vae", "noise-made-on-the-cpu", "dense_vae",
     "z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)",
     "z = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape)", "test_dense_vae"),
    # the images left as they come, (batch, 1, 28, 28): the checks name the shapes
    ("02_dense_vae", "encoder-without-flatten", "dense_vae",
     "nn.Sequential(nn.Flatten(), nn.Linear(image_size, hidden_dim), nn.ReLU())",
     "nn.Sequential(nn.Linear(image_size, hidden_dim), nn.ReLU())", "test_dense_vae"),
    ("02_dense_vae", "targets-not-reshaped", "vae_loss",
     "targets = x.reshape(logits.shape)", "targets = x", "test_vae_loss"),
    ("02_dense_vae", "gaussian-x-not-reshaped", "gaussian_nll",
     "(x.reshape(mean.shape) - mean)", "(x - mean)", "test_gaussian_nll"),
    ("03_conv_vae", "noise-made-on-the-cpu", "conv_vae_forward",
     "z = q.rsample()", "z = q.loc + q.scale * torch.randn(q.loc.shape)", "test_conv_vae_forward"),
    ("03_conv_vae", "prior-made-on-the-cpu", "kl_to_prior",
     "prior = Normal(torch.zeros_like(q.loc), torch.ones_like(q.scale))",
     "prior = Normal(torch.zeros(q.loc.shape[-1]), torch.ones(q.loc.shape[-1]))", "test_kl_to_prior"),
    ("03_conv_vae", "variance-used-as-std", "conv_encoder",
     "return Normal(mu, torch.exp(0.5 * logvar))", "return Normal(mu, torch.exp(logvar))", "test_conv_encoder"),
    ("03_conv_vae", "logvar-head-is-mu-head", "conv_encoder",
     "return self.to_mu(h), self.to_logvar(h)", "return self.to_mu(h), self.to_mu(h)", "test_conv_encoder"),
    ("03_conv_vae", "logits-flattened", "conv_vae_forward",
     "return self.decoder(z), q", "return self.decoder(z).flatten(1), q", "test_conv_vae_forward"),
    ("03_conv_vae", "one-noise-per-image", "conv_vae_forward",
     "z = q.rsample()", "z = q.loc + q.scale * torch.randn(len(q.loc), 1, device=q.loc.device)",
     "test_conv_vae_forward"),
    ("03_conv_vae", "sample-without-gradient", "conv_vae_forward",
     "z = q.rsample()", "z = q.sample()", "test_conv_vae_forward"),
    ("03_conv_vae", "torch-normal", "conv_vae_forward",
     "z = q.rsample()", "z = torch.normal(q.loc, q.scale)", "test_conv_vae_forward"),
    ("03_conv_vae", "decoder-wrong-shape", "conv_decoder",
     "return self.upsample(self.expand(z).view(-1, self.c2, 7, 7))", "return self.upsample(self.expand(z).view(-1, self.c2, 7, 7)).flatten(1)", "test_conv_decoder"),
    ("03_conv_vae", "decoder-fixed-batch-size", "conv_decoder",
     ".view(-1, self.c2, 7, 7)", ".view(128, self.c2, 7, 7)", "test_conv_decoder"),
    ("03_conv_vae", "sigmoid-in-decoder", "conv_decoder",
     "return self.upsample(self.expand(z).view(-1, self.c2, 7, 7))", "return torch.sigmoid(self.upsample(self.expand(z).view(-1, self.c2, 7, 7)))", "test_conv_decoder"),
    ("03_conv_vae", "kl-sign-flipped", "kl_to_prior",
     "return kl_divergence(q, prior).sum(dim=-1)", "return -kl_divergence(q, prior).sum(dim=-1)", "test_kl_to_prior"),
    # review 12 (A): a KL that trains nothing
    ("03_conv_vae", "kl-detached", "kl_to_prior",
     "return kl_divergence(q, prior).sum(dim=-1)", "return kl_divergence(q, prior).sum(dim=-1).detach()",
     "test_kl_to_prior"),
    ("03_conv_vae", "kl-through-a-list", "kl_to_prior",
     "return kl_divergence(q, prior).sum(dim=-1)", "return q.loc.new_tensor(kl_divergence(q, prior).sum(-1).tolist())",
     "test_kl_to_prior"),
    ("01_elbo", "reparameterize-changes-mu-in-place", "reparameterize",
     "return mu + std * torch.randn_like(std)", "return mu.add_(std * torch.randn_like(std))", "test_reparameterize"),
    ("05_beta_vae", "class-information-normalised", "class_information",
     "return terms.sum((1, 2)).to(z.dtype)", "return (terms.sum((1, 2)) / torch.log(torch.tensor(n_classes * 1.0))).to(z.dtype)",
     "test_class_information"),
    ("01_elbo", "reparameterize-without-noise", "reparameterize",
     "return mu + std * torch.randn_like(std)", "return mu + 0.0 * std", "test_reparameterize"),
    ("05_categorical_clustering", "capacity-balance-over-ten-categories", "capacity_penalty",
     "balance = categorical_kl_to_uniform(log_shares.unsqueeze(0)).squeeze(0)",
     "balance = (log_shares.exp() * log_shares).sum() + math.log(10)", "test_capacity_penalty"),
    ("05_categorical_clustering", "gumbel-without-noise", "gumbel_softmax_sample",
     "return F.softmax((logits + gumbel) / tau, dim=-1)", "return F.softmax(logits / tau, dim=-1)",
     "test_gumbel_softmax_sample"),
    ("05_categorical_clustering", "categorical-kl-detached", "categorical_kl_to_uniform",
     "log_probs = F.log_softmax(logits, dim=-1)", "log_probs = F.log_softmax(logits, dim=-1).detach()",
     "test_categorical_kl_to_uniform"),
    ("03_conv_vae", "kl-averaged-over-latents", "kl_to_prior",
     "return kl_divergence(q, prior).sum(dim=-1)", "return kl_divergence(q, prior).mean(dim=-1)", "test_kl_to_prior"),
    # forward computes what mu_logvar computes instead of calling it: grading replaces it
    ("03_conv_vae", "forward-bypasses-mu-logvar", "conv_encoder",
     "mu, logvar = self.mu_logvar(x)\n        return Normal(mu, torch.exp(0.5 * logvar))",
     "h = self.features(x)\n        return Normal(self.to_mu(h), torch.exp(0.5 * self.to_logvar(h)))", "test_conv_encoder"),
    # the encoder used as the notebook's ConvEncoder: the encoder grading gives the model can only be called
    ("03_conv_vae", "forward-calls-encoder-mu-logvar", "conv_vae_forward",
     "q = self.encoder(x)", "mu, logvar = self.encoder.mu_logvar(x)\n        q = Normal(mu, torch.exp(0.5 * logvar))",
     "test_conv_vae_forward"),
    # the padding left at its default of 0: the sides come out 13 and 5 instead of 14 and 7 (encoder), 16 and 32
    # instead of 14 and 28 (decoder)
    ("03_conv_vae", "encoder-without-padding", "conv_encoder",
     "nn.Conv2d(1, c1, kernel_size=4, stride=2, padding=1)", "nn.Conv2d(1, c1, kernel_size=4, stride=2)",
     "test_conv_encoder"),
    ("03_conv_vae", "decoder-without-padding", "conv_decoder",
     "nn.ConvTranspose2d(c2, c1, kernel_size=4, stride=2, padding=1)", "nn.ConvTranspose2d(c2, c1, kernel_size=4, stride=2)",
     "test_conv_decoder"),
    # logvar kept at 0 or above: sigma >= 1, a q never narrower than the prior
    ("03_conv_vae", "logvar-head-rectified", "conv_encoder",
     "return self.to_mu(h), self.to_logvar(h)", "return self.to_mu(h), F.relu(self.to_logvar(h))", "test_conv_encoder"),
    ("03_conv_vae", "logvar-head-softplus", "conv_encoder",
     "return self.to_mu(h), self.to_logvar(h)", "return self.to_mu(h), F.softplus(self.to_logvar(h))",
     "test_conv_encoder"),
    # the ReLUs left out: the same parameters and shapes, and in eval mode (BatchNorm's running statistics) an
    # affine map
    ("03_conv_vae", "encoder-without-relu", "conv_encoder",
     "nn.BatchNorm2d(c1), nn.ReLU(),   # 28 -> 14\n            nn.Conv2d(c1, c2, kernel_size=4, stride=2, padding=1), "
     "nn.BatchNorm2d(c2), nn.ReLU(),  # 14 -> 7",
     "nn.BatchNorm2d(c1),   # 28 -> 14\n            nn.Conv2d(c1, c2, kernel_size=4, stride=2, padding=1), "
     "nn.BatchNorm2d(c2),  # 14 -> 7", "test_conv_encoder"),
    ("03_conv_vae", "decoder-without-relu", "conv_decoder",
     "nn.ReLU(), nn.Linear(hidden, c2 * 7 * 7), nn.ReLU())\n        self.upsample = nn.Sequential(\n"
     "            nn.ConvTranspose2d(c2, c1, kernel_size=4, stride=2, padding=1), nn.BatchNorm2d(c1), nn.ReLU(),",
     "nn.Linear(hidden, c2 * 7 * 7))\n        self.upsample = nn.Sequential(\n"
     "            nn.ConvTranspose2d(c2, c1, kernel_size=4, stride=2, padding=1), nn.BatchNorm2d(c1),",
     "test_conv_decoder"),
    # one ReLU left out, or a ReLU before its BatchNorm: the same parameters, and no longer an affine map; an encoder
    # and a decoder given fixed parameters then compute another function than the architecture described
    ("03_conv_vae", "encoder-without-its-second-relu", "conv_encoder",
     "nn.BatchNorm2d(c2), nn.ReLU(),  # 14 -> 7", "nn.BatchNorm2d(c2),  # 14 -> 7", "test_conv_encoder"),
    ("03_conv_vae", "encoder-relu-before-batchnorm", "conv_encoder",
     "nn.BatchNorm2d(c1), nn.ReLU(),   # 28 -> 14", "nn.ReLU(), nn.BatchNorm2d(c1),   # 28 -> 14", "test_conv_encoder"),
    ("03_conv_vae", "decoder-without-its-second-dense-relu", "conv_decoder",
     "nn.Linear(hidden, c2 * 7 * 7), nn.ReLU())", "nn.Linear(hidden, c2 * 7 * 7))", "test_conv_decoder"),
    ("03_conv_vae", "decoder-without-the-relu-after-its-batchnorm", "conv_decoder",
     "nn.BatchNorm2d(c1), nn.ReLU(),  # 7 -> 14", "nn.BatchNorm2d(c1),  # 7 -> 14", "test_conv_decoder"),
    ("04_conditional_vae", "mu-head-rectified", "conditional_vae",
     "return self.to_mu(h), self.to_logvar(h)", "return torch.relu(self.to_mu(h)), self.to_logvar(h)",
     "test_conditional_vae"),
    # the one-hot width read from the batch's largest label, not model.n_classes
    ("04_conditional_vae", "loss-one-hot-width-from-the-batch", "cvae_loss",
     "one_hot(labels, model.n_classes)", "one_hot(labels, int(labels.max()) + 1)", "test_cvae_loss"),
    # the KL with the standard deviation where the variance goes, right at logvar = 0 only
    ("04_conditional_vae", "loss-kl-std-as-the-variance", "cvae_loss",
     "logvar.exp()", "(0.5 * logvar).exp()", "test_cvae_loss"),
    ("04_conditional_vae", "logvar-head-rectified", "conditional_vae",
     "return self.to_mu(h), self.to_logvar(h)", "return self.to_mu(h), torch.nn.functional.softplus(self.to_logvar(h))",
     "test_conditional_vae"),
    # decode must return logits: probabilities (or rectified logits) would reach BCE-with-logits in cvae_loss
    ("04_conditional_vae", "sigmoid-in-decoder", "conditional_vae",
     "return self.decoder(torch.cat([z, y], dim=1))", "return torch.sigmoid(self.decoder(torch.cat([z, y], dim=1)))",
     "test_conditional_vae"),
    ("04_conditional_vae", "relu-on-the-logits", "conditional_vae",
     "return self.decoder(torch.cat([z, y], dim=1))", "return F.relu(self.decoder(torch.cat([z, y], dim=1)))",
     "test_conditional_vae"),
    ("04_conditional_vae", "one-hot-int64", "one_hot",
     "return F.one_hot(labels.long(), n_classes).float()", "return F.one_hot(labels.long(), n_classes)", "test_one_hot"),
    ("04_conditional_vae", "one-hot-width-from-batch", "one_hot",
     "return F.one_hot(labels.long(), n_classes).float()", "return F.one_hot(labels.long()).float()", "test_one_hot"),
    ("04_conditional_vae", "one-hot-no-range-check", "one_hot",
     "if labels.numel() and (labels.min() < 0 or labels.max() >= n_classes):", "if False:", "test_one_hot"),
    ("04_conditional_vae", "one-hot-accepts-floats", "one_hot",
     "if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:", "if False:", "test_one_hot"),
    ("04_conditional_vae", "encoder-without-relu", "conditional_vae",
     "nn.Linear(image_size + n_classes, hidden_dim), nn.ReLU())", "nn.Linear(image_size + n_classes, hidden_dim))",
     "test_conditional_vae"),
    ("04_conditional_vae", "decoder-ignores-label", "conditional_vae",
     "return self.decoder(torch.cat([z, y], dim=1))", "return self.decoder(torch.cat([z, torch.zeros_like(y)], dim=1))",
     "test_conditional_vae"),
    ("04_conditional_vae", "encoder-ignores-label", "conditional_vae",
     "torch.cat([x.flatten(1), y], dim=1)", "torch.cat([x.flatten(1), torch.zeros_like(y)], dim=1)", "test_conditional_vae"),
    ("04_conditional_vae", "variance-used-as-std", "conditional_vae",
     "z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)", "z = mu + torch.exp(logvar) * torch.randn_like(mu)",
     "test_conditional_vae"),
    ("04_conditional_vae", "logvar-head-is-mu-head", "conditional_vae",
     "return self.to_mu(h), self.to_logvar(h)", "return self.to_mu(h), self.to_mu(h)", "test_conditional_vae"),
    ("04_conditional_vae", "one-noise-per-image", "conditional_vae",
     "z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)",
     "z = mu + torch.exp(0.5 * logvar) * torch.randn(len(mu), 1, device=mu.device)", "test_conditional_vae"),
    ("04_conditional_vae", "labels-concatenated-without-encoding", "cvae_loss",
     "y = one_hot(labels, model.n_classes)", "y = labels.float().unsqueeze(1)", "test_cvae_loss"),
    ("04_conditional_vae", "beta-on-reconstruction", "cvae_loss",
     '"loss": reconstruction + beta * kl', '"loss": beta * reconstruction + kl', "test_cvae_loss"),
    ("04_conditional_vae", "kl-summed-over-batch", "cvae_loss",
     "- 1.0 - logvar).sum(1).mean()", "- 1.0 - logvar).sum()", "test_cvae_loss"),
    # forward computes what encode and decode compute instead of calling them: grading replaces them
    ("04_conditional_vae", "forward-bypasses-encode-and-decode", "conditional_vae",
     "mu, logvar = self.encode(x, y)\n        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)\n"
     "        return self.decode(z, y), mu, logvar",
     "h = self.hidden(torch.cat([x.flatten(1), y], dim=1))\n        mu, logvar = self.to_mu(h), self.to_logvar(h)\n"
     "        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)\n"
     "        return self.decoder(torch.cat([z, y], dim=1)), mu, logvar", "test_conditional_vae"),
    ("04_conditional_vae", "one-hot-ten-classes", "cvae_loss",
     "y = one_hot(labels, model.n_classes)", "y = one_hot(labels, 10)", "test_cvae_loss"),
    ("04_conditional_vae", "labels-one-hot-int64", "cvae_loss",
     "y = one_hot(labels, model.n_classes)", "y = F.one_hot(labels, model.n_classes)", "test_cvae_loss"),
    # the noise made on the CPU, whatever the device of mu: a GPU's tensors then fail (the checks run the call as on a GPU)
    ("04_conditional_vae", "noise-made-on-the-cpu", "conditional_vae",
     "z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)", "z = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape)",
     "test_conditional_vae"),
    ("04_conditional_vae", "kl-returned-weighted", "cvae_loss",
     '"kl": kl}', '"kl": beta * kl}', "test_cvae_loss"),
    ("04_conditional_vae", "one-hot-of-int32-labels", "one_hot",
     "return F.one_hot(labels.long(), n_classes).float()", "return F.one_hot(labels, n_classes).float()", "test_one_hot"),
    # the one-hot vectors made on PyTorch's default device, whatever the device of the labels: a GPU's fail
    ("04_conditional_vae", "one-hot-on-the-default-device", "one_hot",
     "return F.one_hot(labels.long(), n_classes).float()", "return torch.eye(n_classes)[labels.long()]", "test_one_hot"),
    ("04_conditional_vae", "one-hot-validated-by-assert", "one_hot",
     'if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:\n'
     '        raise ValueError(f"one_hot: labels must be an integer tensor, got dtype {labels.dtype}. "\n'
     '                         "Convert class indices with labels.long().")',
     "assert not labels.is_floating_point(), 'labels must be integers'", "test_one_hot"),
    # cell 10 states the interface, model(x, y) and model.n_classes, and the checks' models have nothing else
    ("04_conditional_vae", "loss-calls-encode-and-decode", "cvae_loss",
     "logits, mu, logvar = model(x, y)",
     "mu, logvar = model.encode(x, y)\n    z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)\n"
     "    logits = model.decode(z, y)", "test_cvae_loss"),
    # x left as images (batch, 1, 28, 28) beside the flat logits: the check's hint must name the shapes
    ("04_conditional_vae", "images-not-flattened-for-the-loss", "cvae_loss",
     "binary_cross_entropy_with_logits(logits, x.reshape(logits.shape), reduction",
     "binary_cross_entropy_with_logits(logits, x, reduction", "test_cvae_loss"),
    # a NumPy float: equal to a Python float but of a type of its own (the exercise asks for a Python float)
    ("05_beta_vae", "warm-up-numpy-float", "kl_weight",
     "return float(beta) * min(1.0, step / warmup_steps)",
     "import numpy as np\n    return np.float64(beta) * min(1.0, step / warmup_steps)", "test_kl_weight"),
    # an int at the first step: 0 compares equal to 0.0 but is no float
    ("05_beta_vae", "warm-up-int-at-step-0", "kl_weight",
     "    return float(beta) * min(1.0, step / warmup_steps)",
     "    if step == 0:\n        return 0\n    return float(beta) * min(1.0, step / warmup_steps)", "test_kl_weight"),
    # the epoch's mean as NumPy computes it, a NumPy float
    ("02_dense_vae", "epoch-mean-a-numpy-float", "train_epoch",
     "    return total / count", "    import numpy as np\n    return np.float64(total) / count", "test_train_epoch"),
    ("05_beta_vae", "warm-up-validated-by-assert", "kl_weight",
     "if step < 0 or warmup_steps < 0:", "assert step >= 0 and warmup_steps >= 0\n    if False:", "test_kl_weight"),
    ("05_categorical_clustering", "categorical-kl-mean-of-the-batch", "categorical_kl_to_uniform",
     "return (log_probs.exp() * log_probs).sum(-1) + math.log(logits.shape[-1])",
     "kl = (log_probs.exp() * log_probs).sum(-1) + math.log(logits.shape[-1])\n"
     "    return kl.mean(0).expand(kl.shape)", "test_categorical_kl_to_uniform"),
    ("05_categorical_clustering", "capacity-on-the-summed-kl", "capacity_penalty",
     "gamma * (kl.mean() - capacity).abs()", "gamma * (kl.sum() - capacity).abs()", "test_capacity_penalty"),
    ("05_beta_vae", "warm-up-never-ends", "kl_weight",
     "return float(beta) * min(1.0, step / warmup_steps)", "return float(beta) * step / warmup_steps", "test_kl_weight"),
    ("05_beta_vae", "warm-up-ramps-to-one", "kl_weight",
     "return float(beta) * min(1.0, step / warmup_steps)", "return min(1.0, step / warmup_steps)", "test_kl_weight"),
    ("05_beta_vae", "warm-up-divides-by-zero", "kl_weight",
     "    if warmup_steps == 0:\n        return float(beta)\n", "", "test_kl_weight"),
    ("05_beta_vae", "class-information-in-bits", "class_information",
     "joint * (joint / independent).log()", "joint * (joint / independent).log2()", "test_class_information"),
    ("05_beta_vae", "class-information-one-range-for-all-dimensions", "class_information",
     "low, high = z.min(dim=0).values, z.max(dim=0).values",
     "low, high = z.min().expand(z.shape[1]), z.max().expand(z.shape[1])", "test_class_information"),
    ("05_beta_vae", "class-information-empty-cells-in-the-log", "class_information",
     "terms = torch.where(joint > 0, joint * (joint / independent).log(), torch.zeros_like(joint))",
     "terms = joint * (joint / independent).log()", "test_class_information"),
    ("05_beta_vae", "class-information-without-the-class-marginal", "class_information",
     "(joint / independent)", "(joint / joint.sum(2, keepdim=True))", "test_class_information"),
    ("05_beta_vae", "warm-up-negative-length-allowed", "kl_weight",
     "if step < 0 or warmup_steps < 0:", "if step < 0:", "test_kl_weight"),
    ("05_beta_vae", "warm-up-none-only-at-step-0", "kl_weight",
     "    if warmup_steps == 0:\n", "    if warmup_steps == 0 and step == 0:\n", "test_kl_weight"),
    ("05_beta_vae", "class-information-distinct-labels-counted", "class_information",
     "n_classes = int(labels.max()) + 1", "n_classes = labels.unique().numel()", "test_class_information"),
    ("05_categorical_clustering", "gumbel-noise-made-on-the-cpu", "gumbel_softmax_sample",
     "u = torch.rand_like(logits)", "u = torch.rand(logits.shape, dtype=logits.dtype)", "test_gumbel_softmax_sample"),
    ("05_categorical_clustering", "categorical-kl-missing-log-k", "categorical_kl_to_uniform",
     ".sum(-1) + math.log(logits.shape[-1])", ".sum(-1)", "test_categorical_kl_to_uniform"),
    ("05_categorical_clustering", "categorical-entropy-for-kl", "categorical_kl_to_uniform",
     "return (log_probs.exp() * log_probs).sum(-1) + math.log(logits.shape[-1])",
     "return -(log_probs.exp() * log_probs).sum(-1)", "test_categorical_kl_to_uniform"),
    ("05_categorical_clustering", "categorical-softmax-then-log", "categorical_kl_to_uniform",
     "log_probs = F.log_softmax(logits, dim=-1)", "log_probs = F.softmax(logits, dim=-1).log()",
     "test_categorical_kl_to_uniform"),
    ("05_categorical_clustering", "categorical-softmax-over-batch", "categorical_kl_to_uniform",
     "log_probs = F.log_softmax(logits, dim=-1)", "log_probs = F.log_softmax(logits, dim=0)",
     "test_categorical_kl_to_uniform"),
    ("05_categorical_clustering", "capacity-without-abs", "capacity_penalty",
     "gamma * (kl.mean() - capacity).abs()", "gamma * (kl.mean() - capacity)", "test_capacity_penalty"),
    ("05_categorical_clustering", "capacity-abs-per-image", "capacity_penalty",
     "gamma * (kl.mean() - capacity).abs()", "gamma * (kl - capacity).abs().mean()", "test_capacity_penalty"),
    ("05_categorical_clustering", "capacity-without-balance", "capacity_penalty",
     " + gamma * balance", "", "test_capacity_penalty"),
    ("05_categorical_clustering", "capacity-balance-of-mean-logits", "capacity_penalty",
     "log_shares = torch.logsumexp(F.log_softmax(category_logits, dim=-1), dim=0) - math.log(len(category_logits))",
     "log_shares = category_logits.mean(0)", "test_capacity_penalty"),
    ("05_categorical_clustering", "capacity-balance-with-zero-shares", "capacity_penalty",
     "log_shares = torch.logsumexp(F.log_softmax(category_logits, dim=-1), dim=0) - math.log(len(category_logits))",
     "log_shares = F.softmax(category_logits, dim=-1).mean(0).log()", "test_capacity_penalty"),
    ("05_categorical_clustering", "gumbel-draws-on-the-cpu", "gumbel_softmax_sample",
     "gumbel = -torch.log(-torch.log(u))", "gumbel = torch.distributions.Gumbel(0.0, 1.0).sample(logits.shape)",
     "test_gumbel_softmax_sample"),
    ("05_categorical_clustering", "gumbel-exponential-noise", "gumbel_softmax_sample",
     "gumbel = -torch.log(-torch.log(u))", "gumbel = -torch.log(u)", "test_gumbel_softmax_sample"),
    # the noise outside the division by tau (argmax follows Cat(pi^(1/tau))), or added to probabilities (softmax(pi))
    ("05_categorical_clustering", "gumbel-noise-not-divided-by-tau", "gumbel_softmax_sample",
     "F.softmax((logits + gumbel) / tau, dim=-1)", "F.softmax(logits / tau + gumbel, dim=-1)",
     "test_gumbel_softmax_sample"),
    ("05_categorical_clustering", "gumbel-noise-added-to-probabilities", "gumbel_softmax_sample",
     "F.softmax((logits + gumbel) / tau, dim=-1)", "F.softmax((F.softmax(logits, -1) + gumbel) / tau, dim=-1)",
     "test_gumbel_softmax_sample"),
    ("01_elbo", "uniform-noise", "reparameterize",
     "return mu + std * torch.randn_like(std)", "return mu + std * torch.rand_like(std)", "test_reparameterize"),
    # bins one too wide, or values rounded to the nearest bin: two classes share a bin
    ("05_beta_vae", "class-information-bins-of-range-over-n-minus-1", "class_information",
     "width = ((high - low) / n_bins)", "width = ((high - low) / (n_bins - 1))", "test_class_information"),
    ("05_beta_vae", "class-information-values-rounded-to-a-bin", "class_information",
     "bins = ((z - low) / width).floor()", "bins = ((z - low) / width).round()", "test_class_information"),
    # the floor applied in the squared error only: log s is still the unfloored log_scale
    ("02_dense_vae", "gaussian-floor-in-the-squared-error-only", "gaussian_nll",
     "per_pixel = scale.log() + 0.5", "per_pixel = log_scale + 0.5", "test_gaussian_nll"),
    # the KL in bits, or either KL the other way round, KL(uniform || q)
    ("05_categorical_clustering", "categorical-kl-in-bits", "categorical_kl_to_uniform",
     "return (log_probs.exp() * log_probs).sum(-1) + math.log(logits.shape[-1])",
     "return ((log_probs.exp() * log_probs).sum(-1) + math.log(logits.shape[-1])) / math.log(2)",
     "test_categorical_kl_to_uniform"),
    ("05_categorical_clustering", "categorical-kl-reversed", "categorical_kl_to_uniform",
     "return (log_probs.exp() * log_probs).sum(-1) + math.log(logits.shape[-1])",
     "return (-log_probs).mean(-1) - math.log(logits.shape[-1])", "test_categorical_kl_to_uniform"),
    ("05_categorical_clustering", "capacity-balance-reversed", "capacity_penalty",
     "balance = categorical_kl_to_uniform(log_shares.unsqueeze(0)).squeeze(0)",
     "balance = (-log_shares).mean() - math.log(len(log_shares))", "test_capacity_penalty"),
    # a whitelist of integer dtypes, and bool labels taken as integers
    ("04_conditional_vae", "one-hot-refuses-small-integer-dtypes", "one_hot",
     "if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:",
     "if labels.dtype not in (torch.int64, torch.int32):", "test_one_hot"),
    ("04_conditional_vae", "one-hot-indexes-with-the-labels-dtype", "one_hot",
     "return F.one_hot(labels.long(), n_classes).float()",
     "return torch.eye(n_classes, device=labels.device)[labels]", "test_one_hot"),
    ("04_conditional_vae", "one-hot-takes-bool-labels", "one_hot",
     "if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:",
     "if labels.is_floating_point() or labels.is_complex():", "test_one_hot"),
    ("03_conv_vae", "kl-reversed", "kl_to_prior",
     "return kl_divergence(q, prior).sum(dim=-1)", "return kl_divergence(prior, q).sum(dim=-1)", "test_kl_to_prior"),
    ("01_elbo", "elbo-noise-logvar-exponentiated", "elbo",
     "model.decoder_mean(reparameterize(q_mu, q_logvar)), model.logvar)",
     "model.decoder_mean(reparameterize(q_mu, q_logvar)), math.exp(model.logvar))", "test_elbo"),
    ("01_elbo", "elbo-one-draw-whatever-n-samples", "elbo", "for _ in range(n_samples)", "for _ in range(1)",
     "test_elbo"),
    ("05_categorical_clustering", "gumbel-without-temperature", "gumbel_softmax_sample",
     "F.softmax((logits + gumbel) / tau, dim=-1)", "F.softmax(logits + gumbel, dim=-1)", "test_gumbel_softmax_sample"),
    ("05_categorical_clustering", "gumbel-one-noise-per-row", "gumbel_softmax_sample",
     "u = torch.rand_like(logits)", "u = torch.rand(len(logits), 1, device=logits.device)", "test_gumbel_softmax_sample"),
    ("05_categorical_clustering", "gumbel-temperature-outside-softmax", "gumbel_softmax_sample",
     "F.softmax((logits + gumbel) / tau, dim=-1)", "F.softmax(logits + gumbel, dim=-1) / tau", "test_gumbel_softmax_sample"),
    ("05_categorical_clustering", "gumbel-noise-for-two-dimensions-only", "gumbel_softmax_sample",
     "u = torch.rand_like(logits)",
     "u = torch.rand(logits.shape[0], logits.shape[1], dtype=logits.dtype, device=logits.device)",
     "test_gumbel_softmax_sample"),
    ("05_categorical_clustering", "categorical-kl-logsumexp-by-hand", "categorical_kl_to_uniform",
     "log_probs = F.log_softmax(logits, dim=-1)", "log_probs = logits - logits.exp().sum(-1, keepdim=True).log()",
     "test_categorical_kl_to_uniform"),
    # in place on the encoder's output, a leaf here: autograd refuses it
    ("05_categorical_clustering", "capacity-logits-shifted-in-place", "capacity_penalty",
     "kl = categorical_kl_to_uniform(category_logits)",
     "category_logits -= category_logits.max(-1, keepdim=True).values\n"
     "    kl = categorical_kl_to_uniform(category_logits)",
     "test_capacity_penalty"),
    # grey-level targets binarised: right wherever the checks' logits are 0, wrong for grey pixels elsewhere
    ("01_elbo", "bernoulli-targets-rounded", "log_likelihoods",
     'per_pixel = -F.binary_cross_entropy_with_logits(logits, x, reduction="none")',
     'per_pixel = -F.binary_cross_entropy_with_logits(logits, x.round(), reduction="none")', "test_log_likelihoods"),
    ("01_elbo", "bernoulli-of-thresholded-targets", "log_likelihoods",
     'per_pixel = -F.binary_cross_entropy_with_logits(logits, x, reduction="none")',
     "per_pixel = torch.distributions.Bernoulli(logits=logits).log_prob((x > 0.5).to(logits.dtype))",
     "test_log_likelihoods"),
    ("02_dense_vae", "targets-binarised", "vae_loss",
     "targets = x.reshape(logits.shape)", "targets = x.reshape(logits.shape).round()", "test_vae_loss"),
    ("02_dense_vae", "bernoulli-of-thresholded-targets", "vae_loss",
     'F.binary_cross_entropy_with_logits(logits, targets, reduction="none").flatten(1).sum(1).mean()',
     "-torch.distributions.Bernoulli(logits=logits).log_prob((targets > 0.5).float()).flatten(1).sum(1).mean()",
     "test_vae_loss"),
    ("04_conditional_vae", "targets-binarised", "cvae_loss",
     'x.reshape(logits.shape), reduction="none")', 'x.reshape(logits.shape).round(), reduction="none")',
     "test_cvae_loss"),
    # probabilities in place of logits: a sure wrong pixel (logit -200) is charged 100 nats, or 16, not 200
    ("04_conditional_vae", "bce-of-a-sigmoid", "cvae_loss",
     'F.binary_cross_entropy_with_logits(logits, x.reshape(logits.shape), reduction="none")',
     'F.binary_cross_entropy(torch.sigmoid(logits), x.reshape(logits.shape), reduction="none")', "test_cvae_loss"),
    ("04_conditional_vae", "bce-of-clamped-probabilities", "cvae_loss",
     'reconstruction = F.binary_cross_entropy_with_logits(logits, x.reshape(logits.shape), reduction="none")',
     "p, target = torch.sigmoid(logits).clamp(1e-7, 1 - 1e-7), x.reshape(logits.shape)\n"
     "    reconstruction = -(target * p.log() + (1 - target) * (1 - p).log())", "test_cvae_loss"),
    # calls whose error PyTorch raises: the check names the call and gives its hint
    ("01_elbo", "gaussian-exp-of-a-number", "log_likelihoods",
     "logvar = torch.as_tensor(logvar, dtype=x.dtype, device=x.device)\n"
     "    per_entry = -0.5 * (math.log(2 * math.pi) + logvar + (x - mean) ** 2 / logvar.exp())",
     "per_entry = -0.5 * (math.log(2 * math.pi) + logvar + (x - mean) ** 2 / torch.exp(logvar))",
     "test_log_likelihoods"),
    ("03_conv_vae", "draw-with-a-sample-dimension", "conv_vae_forward",
     "z = q.rsample()", "z = q.rsample((1,))", "test_conv_vae_forward"),
    ("03_conv_vae", "prior-of-a-fixed-size", "kl_to_prior",
     "prior = Normal(torch.zeros_like(q.loc), torch.ones_like(q.scale))",
     "prior = Normal(torch.zeros(20), torch.ones(20))", "test_kl_to_prior"),
    ("04_conditional_vae", "encoder-images-not-flattened", "conditional_vae",
     "torch.cat([x.flatten(1), y], dim=1)", "torch.cat([x, y], dim=1)", "test_conditional_vae"),
    # every class weighed alike, p(b, y) = p(b | y) / K: right only where the classes are equally frequent
    ("05_beta_vae", "class-information-classes-weighed-alike", "class_information",
     "joint = counts.view(-1, n_bins, n_classes) / len(z)",
     "per_class = counts.view(-1, n_bins, n_classes)\n"
     "    sizes = per_class.sum(1, keepdim=True)\n"
     "    joint = per_class / sizes.clamp(min=1) / (sizes > 0).sum(2, keepdim=True)", "test_class_information"),
    ("06_collapse_and_inference", "free-bits-clamped-per-image", "free_bits_kl",
     "return kl.mean(dim=0).clamp(min=free_bits).sum()", "return kl.clamp(min=free_bits).mean(dim=0).sum()",
     "test_free_bits_kl"),
    ("06_collapse_and_inference", "free-bits-floor-on-the-total", "free_bits_kl",
     "return kl.mean(dim=0).clamp(min=free_bits).sum()", "return kl.sum(dim=1).mean().clamp(min=free_bits)",
     "test_free_bits_kl"),
    ("06_collapse_and_inference", "free-bits-as-a-ceiling", "free_bits_kl",
     "return kl.mean(dim=0).clamp(min=free_bits).sum()", "return kl.mean(dim=0).clamp(max=free_bits).sum()",
     "test_free_bits_kl"),
    ("06_collapse_and_inference", "refine-mu-only", "refine_posterior",
     "optimizer = torch.optim.Adam([mu, logvar], lr=lr)", "optimizer = torch.optim.Adam([mu], lr=lr)",
     "test_refine_posterior"),
    ("06_collapse_and_inference", "refine-lowers-the-elbo", "refine_posterior",
     "loss = -elbo_per_image(decoder, x, mu, logvar, n_samples).sum()",
     "loss = elbo_per_image(decoder, x, mu, logvar, n_samples).sum()", "test_refine_posterior"),
    # .detach() shares the caller's tensor: the optimizer's steps then move the caller's mu
    # no step taken, the caller's own tensors handed back, the encoder's graph with them
    ("06_collapse_and_inference", "refine-steps-0-returns-the-given-tensors", "refine_posterior",
     "    mu = mu.detach().clone().requires_grad_()\n",
     "    if steps == 0:\n        return mu, logvar\n    mu = mu.detach().clone().requires_grad_()\n", "test_refine_posterior"),
    ("06_collapse_and_inference", "refine-changes-the-given-mu-in-place", "refine_posterior",
     "mu = mu.detach().clone().requires_grad_()", "mu = mu.detach().requires_grad_()", "test_refine_posterior"),
    # the copies made from the values read out: on the CPU, away from the decoder and the images on a GPU
    ("06_collapse_and_inference", "refine-copies-made-on-the-cpu", "refine_posterior",
     "mu = mu.detach().clone().requires_grad_()", "mu = torch.tensor(mu.tolist(), requires_grad=True)",
     "test_refine_posterior"),
    ("06_collapse_and_inference", "refine-trains-the-decoder", "refine_posterior",
     "optimizer = torch.optim.Adam([mu, logvar], lr=lr)",
     "optimizer = torch.optim.Adam([mu, logvar, *decoder.parameters()], lr=lr)", "test_refine_posterior"),
    ("06_collapse_and_inference", "aggregate-summed-not-averaged", "log_aggregate_posterior",
     "dim=1) - math.log(len(mu))", "dim=1)", "test_log_aggregate_posterior"),
    ("06_collapse_and_inference", "aggregate-densities-averaged-directly", "log_aggregate_posterior",
     "torch.logsumexp(q.log_prob(part.unsqueeze(1)).sum(-1), dim=1) - math.log(len(mu))",
     "q.log_prob(part.unsqueeze(1)).sum(-1).exp().mean(1).log()", "test_log_aggregate_posterior"),
    ("06_collapse_and_inference", "aggregate-log-densities-averaged", "log_aggregate_posterior",
     "torch.logsumexp(q.log_prob(part.unsqueeze(1)).sum(-1), dim=1) - math.log(len(mu))",
     "q.log_prob(part.unsqueeze(1)).sum(-1).mean(1)", "test_log_aggregate_posterior"),
    # the mixture taken in each dimension alone: a product of per-dimension mixtures is not the mixture of products
    ("06_collapse_and_inference", "aggregate-mixture-per-dimension", "log_aggregate_posterior",
     "torch.logsumexp(q.log_prob(part.unsqueeze(1)).sum(-1), dim=1) - math.log(len(mu))",
     "torch.logsumexp(q.log_prob(part.unsqueeze(1)), dim=1).sum(-1) - math.log(len(mu))", "test_log_aggregate_posterior"),
    ("06_collapse_and_inference", "aggregate-minus-log-d", "log_aggregate_posterior",
     "dim=1) - math.log(len(mu))", "dim=1) - math.log(mu.shape[1])", "test_log_aggregate_posterior"),
    ("06_collapse_and_inference", "aggregate-variance-as-scale", "log_aggregate_posterior",
     "q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))", "q = torch.distributions.Normal(mu, torch.exp(logvar))",
     "test_log_aggregate_posterior"),
    ("06_collapse_and_inference", "aggregate-first-chunk-only", "log_aggregate_posterior",
     "for part in z.split(chunk)])", "for part in z.split(chunk)][:1])", "test_log_aggregate_posterior"),
    # every code against every posterior at once: M × N × d numbers, 800 MB for the notebook's 10,000 codes
    # log-mean-exp shifted by the chunk's largest log-density instead of each code's: a far code's row is -inf
    ("06_collapse_and_inference", "aggregate-shifted-by-the-chunk-max", "log_aggregate_posterior",
     "torch.logsumexp(q.log_prob(part.unsqueeze(1)).sum(-1), dim=1)",
     "(lambda lp: lp.max() + (lp - lp.max()).exp().sum(1).log())(q.log_prob(part.unsqueeze(1)).sum(-1))",
     "test_log_aggregate_posterior"),
    ("06_collapse_and_inference", "aggregate-ignores-chunk", "log_aggregate_posterior",
     "for part in z.split(chunk)])", "for part in [z]])", "test_log_aggregate_posterior"),
    # a Python max() per dimension: a tensor while some dimension is above the floor, the float d * free_bits when none is
    ("06_collapse_and_inference", "free-bits-python-max", "free_bits_kl",
     "return kl.mean(dim=0).clamp(min=free_bits).sum()", "return sum(max(m, free_bits) for m in kl.mean(dim=0))",
     "test_free_bits_kl"),
    # tensors made on the CPU, whatever the device of kl or z: a GPU's tensors then fail (the checks run the call as on a GPU)
    ("06_collapse_and_inference", "free-bits-floor-made-on-the-cpu", "free_bits_kl",
     "return kl.mean(dim=0).clamp(min=free_bits).sum()",
     "return torch.maximum(kl.mean(dim=0), torch.full((kl.shape[1],), float(free_bits))).sum()", "test_free_bits_kl"),
    ("06_collapse_and_inference", "aggregate-filled-on-the-cpu", "log_aggregate_posterior",
     "q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))\n"
     "    return torch.cat([torch.logsumexp(q.log_prob(part.unsqueeze(1)).sum(-1), dim=1) - math.log(len(mu))\n"
     "                      for part in z.split(chunk)])",
     "q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))\n"
     "    out = torch.empty(len(z))\n"
     "    for start in range(0, len(z), chunk):\n"
     "        part = z[start:start + chunk]\n"
     "        out[start:start + chunk] = torch.logsumexp(q.log_prob(part.unsqueeze(1)).sum(-1), dim=1) - math.log(len(mu))\n"
     "    return out", "test_log_aggregate_posterior"),
    ("06_collapse_and_inference", "aggregate-mixture-weights-on-the-cpu", "log_aggregate_posterior",
     "q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))\n"
     "    return torch.cat([torch.logsumexp(q.log_prob(part.unsqueeze(1)).sum(-1), dim=1) - math.log(len(mu))\n"
     "                      for part in z.split(chunk)])",
     "mixture = torch.distributions.MixtureSameFamily(\n"
     "        torch.distributions.Categorical(logits=torch.zeros(len(mu))),\n"
     "        torch.distributions.Independent(torch.distributions.Normal(mu, (0.5 * logvar).exp()), 1))\n"
     "    return torch.cat([mixture.log_prob(part) for part in z.split(chunk)])", "test_log_aggregate_posterior"),
    ("06_collapse_and_inference", "grid-evenly-spaced", "prior_quantile_grid",
     "v = torch.distributions.Normal(0.0, 1.0).icdf(u)", "v = torch.linspace(-2.0, 2.0, n)", "test_prior_quantile_grid"),
    ("06_collapse_and_inference", "grid-quantiles-include-0-and-1", "prior_quantile_grid",
     "u = (torch.arange(n, dtype=torch.float32) + 0.5) / n", "u = torch.linspace(0.0, 1.0, n)",
     "test_prior_quantile_grid"),
    ("06_collapse_and_inference", "grid-upside-down", "prior_quantile_grid",
     "z2 = v.flip(0).unsqueeze(1).expand(n, n)", "z2 = v.unsqueeze(1).expand(n, n)", "test_prior_quantile_grid"),
    ("06_collapse_and_inference", "grid-transposed", "prior_quantile_grid",
     "return torch.stack([z1, z2], dim=-1)", "return torch.stack([z1, z2], dim=-1).transpose(0, 1)",
     "test_prior_quantile_grid"),
    ("06_collapse_and_inference", "grid-without-a-check-of-n", "prior_quantile_grid",
     "    if n < 1:\n        raise ValueError(", "    if False:\n        raise ValueError(",
     "test_prior_quantile_grid"),
    ("06_collapse_and_inference", "free-bits-batch-squeezed", "free_bits_kl",
     "return kl.mean(dim=0).clamp(min=free_bits).sum()", "return kl.squeeze().mean(dim=0).clamp(min=free_bits).sum()",
     "test_free_bits_kl"),
    ("06_collapse_and_inference", "refine-ignores-lr", "refine_posterior",
     "optimizer = torch.optim.Adam([mu, logvar], lr=lr)", "optimizer = torch.optim.Adam([mu, logvar], lr=1e-2)",
     "test_refine_posterior"),
    # gradients summed over the steps: here larger steps than Adam's, a higher ELBO than a reference run's
    ("06_collapse_and_inference", "refine-gradients-never-zeroed", "refine_posterior",
     "        optimizer.zero_grad()\n", "", "test_refine_posterior"),
    ("06_collapse_and_inference", "refine-ignores-n-samples", "refine_posterior",
     "loss = -elbo_per_image(decoder, x, mu, logvar, n_samples).sum()",
     "loss = -elbo_per_image(decoder, x, mu, logvar).sum()", "test_refine_posterior"),
    # what a lent decoder cannot give: its parameters (at grading its parameters() lists nothing)
    ("06_collapse_and_inference", "refine-device-from-the-decoders-parameters", "refine_posterior",
     "mu = mu.detach().clone().requires_grad_()",
     "mu = mu.detach().clone().to(next(decoder.parameters()).device).requires_grad_()", "test_refine_posterior"),
    # the KL term cut from the graph: no gradient reaches the encoder through it
    ("06_collapse_and_inference", "free-bits-detached", "free_bits_kl",
     "return kl.mean(dim=0).clamp(min=free_bits).sum()", "return kl.detach().mean(dim=0).clamp(min=free_bits).sum()",
     "test_free_bits_kl"),
    # gradient steps, not Adam's: at this lr they fall short of Adam's rise
    ("06_collapse_and_inference", "refine-by-sgd", "refine_posterior",
     "optimizer = torch.optim.Adam([mu, logvar], lr=lr)", "optimizer = torch.optim.SGD([mu, logvar], lr=lr)",
     "test_refine_posterior"),
    # a new Adam each step forgets its moments: each of its first steps moves every coordinate by about lr
    ("06_collapse_and_inference", "refine-new-adam-each-step", "refine_posterior",
     "    optimizer = torch.optim.Adam([mu, logvar], lr=lr)\n    for _ in range(steps):\n",
     "    for _ in range(steps):\n        optimizer = torch.optim.Adam([mu, logvar], lr=lr)\n", "test_refine_posterior"),
    # errors of the student's own, each named by its cause, not by the lent decoder: the steps under no_grad (no
    # gradient to follow), copies of mu and logvar that keep their history (non-leaf tensors), one loss for all steps
    ("06_collapse_and_inference", "refine-steps-under-no-grad", "refine_posterior",
     "    for _ in range(steps):\n", "    with torch.no_grad():\n      for _ in range(steps):\n", "test_refine_posterior"),
    ("06_collapse_and_inference", "refine-copies-keep-their-history", "refine_posterior",
     "mu = mu.detach().clone().requires_grad_()", "mu = mu.clone().requires_grad_()", "test_refine_posterior"),
    ("06_collapse_and_inference", "refine-loss-built-once", "refine_posterior",
     "    for _ in range(steps):\n        loss = -elbo_per_image(decoder, x, mu, logvar, n_samples).sum()\n",
     "    loss = -elbo_per_image(decoder, x, mu, logvar, n_samples).sum()\n    for _ in range(steps):\n",
     "test_refine_posterior"),
    # no step taken, or each taken before its gradient: nothing moves
    ("06_collapse_and_inference", "refine-never-steps", "refine_posterior",
     "        optimizer.step()\n", "", "test_refine_posterior"),
    ("06_collapse_and_inference", "refine-steps-before-the-backward", "refine_posterior",
     "        optimizer.zero_grad()\n        loss.backward()\n        optimizer.step()\n",
     "        optimizer.zero_grad()\n        optimizer.step()\n        loss.backward()\n", "test_refine_posterior"),
    # an assert where the caller is promised a ValueError (and an assert is skipped under python -O)
    ("06_collapse_and_inference", "free-bits-negative-checked-by-assert", "free_bits_kl",
     "    if free_bits < 0:\n        raise ValueError(",
     "    assert free_bits >= 0\n    if False:\n        raise ValueError(", "test_free_bits_kl"),
    ("06_collapse_and_inference", "grid-of-no-points-checked-by-assert", "prior_quantile_grid",
     "    if n < 1:\n        raise ValueError(", "    assert n >= 1\n    if False:\n        raise ValueError(",
     "test_prior_quantile_grid"),
    # a loop one step short or one step long: Adam's first step, with steps=1, moves every coordinate by lr
    ("06_collapse_and_inference", "refine-one-step-too-few", "refine_posterior",
     "    for _ in range(steps):\n", "    for _ in range(steps - 1):\n", "test_refine_posterior"),
    ("06_collapse_and_inference", "refine-one-step-too-many", "refine_posterior",
     "    for _ in range(steps):\n", "    for _ in range(steps + 1):\n", "test_refine_posterior"),
    ("06_collapse_and_inference", "refine-one-step-too-many-after-the-loop", "refine_posterior",
     "    return mu.detach(), logvar.detach()",
     "    optimizer.step()\n    return mu.detach(), logvar.detach()", "test_refine_posterior"),
    # Phi^-1 from erfinv without its sqrt(2): the quantiles of N(0, 1/2)
    ("06_collapse_and_inference", "grid-erfinv-without-its-sqrt-2", "prior_quantile_grid",
     "v = torch.distributions.Normal(0.0, 1.0).icdf(u)", "v = torch.erfinv(2 * u - 1)", "test_prior_quantile_grid"),
    # the edges of n + 1 intervals of equal mass, not the midpoints (in mass) of n
    ("06_collapse_and_inference", "grid-edges-of-n-plus-1-intervals", "prior_quantile_grid",
     "u = (torch.arange(n, dtype=torch.float32) + 0.5) / n", "u = torch.arange(1, n + 1, dtype=torch.float32) / (n + 1)",
     "test_prior_quantile_grid"),
    # z.chunk(k) cuts z into k pieces, not pieces of k rows: here pieces larger than chunk rows
    ("06_collapse_and_inference", "aggregate-chunk-as-the-number-of-pieces", "log_aggregate_posterior",
     "for part in z.split(chunk)", "for part in z.chunk(chunk)", "test_log_aggregate_posterior"),
    ("07_richer_posteriors_and_priors", "best-q-marginal-variances", "best_diagonal_q",
     "return mean, 1 / precision.diagonal()", "return mean, torch.linalg.inv(precision).diagonal()",
     "test_best_diagonal_q"),
    ("07_richer_posteriors_and_priors", "best-q-precision-as-variance", "best_diagonal_q",
     "return mean, 1 / precision.diagonal()", "return mean, precision.diagonal()", "test_best_diagonal_q"),
    ("07_richer_posteriors_and_priors", "best-q-standard-deviations", "best_diagonal_q",
     "return mean, 1 / precision.diagonal()", "return mean, precision.diagonal().rsqrt()", "test_best_diagonal_q"),
    ("07_richer_posteriors_and_priors", "best-q-centred-on-the-prior", "best_diagonal_q",
     "return mean, 1 / precision.diagonal()", "return torch.zeros_like(mean), 1 / precision.diagonal()",
     "test_best_diagonal_q"),
    ("07_richer_posteriors_and_priors", "best-q-row-sums", "best_diagonal_q",
     "return mean, 1 / precision.diagonal()", "return mean, 1 / precision.sum(1)", "test_best_diagonal_q"),
    # the notebook's own gap minimised numerically (to 1e-6 with L-BFGS), the closed form never found
    ("07_richer_posteriors_and_priors", "best-q-by-minimising-the-notebooks-gap", "best_diagonal_q",
     "return mean, 1 / precision.diagonal()",
     "m = torch.zeros_like(mean, requires_grad=True)\n    log_v = torch.zeros_like(mean, requires_grad=True)\n"
     "    optimizer = torch.optim.LBFGS([m, log_v], max_iter=200, tolerance_grad=1e-12, tolerance_change=1e-15,\n"
     "                                  line_search_fn='strong_wolfe')\n\n"
     "    def closure():\n        optimizer.zero_grad()\n"
     "        gap = gap_of_diagonal_q(m, log_v.exp(), mean, precision)\n        gap.backward()\n        return gap\n\n"
     "    optimizer.step(closure)\n    return m.detach(), log_v.exp().detach()",
     "test_best_diagonal_q"),
    # a KL of torch.distributions' own minimised by L-BFGS: the closed form never found, nor the notebook's gap used
    ("07_richer_posteriors_and_priors", "best-q-by-minimising-a-sampled-kl", "best_diagonal_q",
     "return mean, 1 / precision.diagonal()",
     "m = torch.zeros_like(mean, requires_grad=True)\n    log_v = torch.zeros_like(mean, requires_grad=True)\n"
     "    optimizer = torch.optim.LBFGS([m, log_v], max_iter=200, line_search_fn='strong_wolfe')\n\n"
     "    def closure():\n        optimizer.zero_grad()\n"
     "        q = torch.distributions.Normal(m, log_v.exp().sqrt())\n"
     "        p = torch.distributions.MultivariateNormal(mean, precision_matrix=precision)\n"
     "        z = q.rsample((4000,))\n        gap = (q.log_prob(z).sum(-1) - p.log_prob(z)).mean()\n"
     "        gap.backward()\n        return gap\n\n"
     "    optimizer.step(closure)\n    return m.detach(), log_v.exp().detach()",
     "test_best_diagonal_q"),
    ("07_richer_posteriors_and_priors", "flow-log-det-with-tanh-not-its-derivative", "planar_flow",
     "(1 + (1 - h ** 2) * (w * u)", "(1 + h * (w * u)", "test_planar_flow"),
    ("07_richer_posteriors_and_priors", "flow-log-det-without-the-one", "planar_flow",
     "torch.log((1 + (1 - h ** 2)", "torch.log(((1 - h ** 2)", "test_planar_flow"),
    ("07_richer_posteriors_and_priors", "flow-log-det-with-sech-not-squared", "planar_flow",
     "(1 + (1 - h ** 2) * (w * u)", "(1 + (1 - h) * (w * u)", "test_planar_flow"),
    # log(1 + |psi^T u|): right where psi^T u > 0, wrong where the determinant lies between 0 and 1
    ("07_richer_posteriors_and_priors", "flow-log1p-of-the-absolute", "planar_flow",
     "torch.log((1 + (1 - h ** 2) * (w * u).sum(-1)).abs())", "torch.log1p(((1 - h ** 2) * (w * u).sum(-1)).abs())",
     "test_planar_flow"),
    ("07_richer_posteriors_and_priors", "flow-log-det-without-abs", "planar_flow",
     "(w * u).sum(-1)).abs())", "(w * u).sum(-1)))", "test_planar_flow"),
    ("07_richer_posteriors_and_priors", "flow-abs-of-the-log", "planar_flow",
     "torch.log((1 + (1 - h ** 2) * (w * u).sum(-1)).abs())", "torch.log(1 + (1 - h ** 2) * (w * u).sum(-1)).abs()",
     "test_planar_flow"),
    ("07_richer_posteriors_and_priors", "flow-bias-left-out", "planar_flow",
     "a = (z * w).sum(-1) + b", "a = (z * w).sum(-1)", "test_planar_flow"),
    ("07_richer_posteriors_and_priors", "flow-one-w-for-all-rows-only", "planar_flow",
     "a = (z * w).sum(-1) + b", "a = z @ w + b", "test_planar_flow"),
    ("07_richer_posteriors_and_priors", "flow-log-det-summed-over-the-batch", "planar_flow",
     "return z + u * h.unsqueeze(-1), log_det", "return z + u * h.unsqueeze(-1), log_det.sum()", "test_planar_flow"),
    ("07_richer_posteriors_and_priors", "flow-detached", "planar_flow",
     "return z + u * h.unsqueeze(-1), log_det", "return (z + u * h.unsqueeze(-1)).detach(), log_det.detach()",
     "test_planar_flow"),
    ("07_richer_posteriors_and_priors", "flow-bias-taken-for-a-tensor", "planar_flow",
     "a = (z * w).sum(-1) + b", "a = (z * w).sum(-1) + b.to(z.dtype)", "test_planar_flow"),
    ("07_richer_posteriors_and_priors", "flow-bias-gradient-cut", "planar_flow",
     "a = (z * w).sum(-1) + b", "a = (z * w).sum(-1) + torch.as_tensor(b, dtype=z.dtype).detach()", "test_planar_flow"),
    ("07_richer_posteriors_and_priors", "flow-one-point-squeezed", "planar_flow",
     "return z + u * h.unsqueeze(-1), log_det", "return z + u * h.unsqueeze(-1), log_det.squeeze()", "test_planar_flow"),
    ("07_richer_posteriors_and_priors", "flow-log-det-epsilon-too-large", "planar_flow",
     "torch.log((1 + (1 - h ** 2) * (w * u).sum(-1)).abs())",
     "torch.log((1 + (1 - h ** 2) * (w * u).sum(-1)).abs() + 1e-5)", "test_planar_flow"),
    # right, but through the d × d Jacobian and its determinant, O(d^3) per point, where the exercise asks for O(d)
    ("07_richer_posteriors_and_priors", "flow-log-det-of-the-d-by-d-jacobian", "planar_flow",
     "log_det = torch.log((1 + (1 - h ** 2) * (w * u).sum(-1)).abs())",
     "psi = (1 - h ** 2).unsqueeze(-1) * w\n"
     "    jacobian = torch.eye(z.shape[-1], dtype=z.dtype, device=z.device) + u.unsqueeze(-1) * psi.unsqueeze(-2)\n"
     "    log_det = torch.linalg.slogdet(jacobian)[1]", "test_planar_flow"),
    ("08_semi_supervised", "labelled-kl-added", "labelled_bound",
     "return log_likelihood - kl - math.log", "return log_likelihood + kl - math.log", "test_labelled_bound"),
    ("08_semi_supervised", "labelled-log-prior-of-the-class-left-out", "labelled_bound",
     "return log_likelihood - kl - math.log(model.n_classes)", "return log_likelihood - kl", "test_labelled_bound"),
    ("08_semi_supervised", "labelled-variance-used-as-std", "labelled_bound",
     "z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)", "z = mu + torch.exp(logvar) * torch.randn_like(mu)",
     "test_labelled_bound"),
    ("08_semi_supervised", "labelled-decoded-at-the-mean", "labelled_bound",
     "mean, h_logvar = model.decode(z, one_hot)", "mean, h_logvar = model.decode(mu, one_hot)", "test_labelled_bound"),
    ("08_semi_supervised", "labelled-sample-without-gradient", "labelled_bound",
     "z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)",
     "z = torch.distributions.Normal(mu, torch.exp(0.5 * logvar)).sample()", "test_labelled_bound"),
    ("08_semi_supervised", "labelled-density-without-log-2-pi", "labelled_bound",
     "-0.5 * (math.log(2 * math.pi) + h_logvar", "-0.5 * (h_logvar", "test_labelled_bound"),
    ("08_semi_supervised", "labelled-one-hot-as-wide-as-the-largest-class", "labelled_bound",
     "one_hot = F.one_hot(y, model.n_classes).to(h.dtype)", "one_hot = F.one_hot(y).to(h.dtype)", "test_labelled_bound"),
    # in the notebook h is data, so a cut gradient in h changes nothing there: the checks differentiate in h
    ("08_semi_supervised", "labelled-codes-detached", "labelled_bound",
     "one_hot = F.one_hot(y, model.n_classes).to(h.dtype)",
     "h = h.detach()\n    one_hot = F.one_hot(y, model.n_classes).to(h.dtype)", "test_labelled_bound"),
    # what a lent model cannot give: its parameters (at grading its parameters() lists nothing)
    ("08_semi_supervised", "labelled-dtype-and-device-from-parameters", "labelled_bound",
     "one_hot = F.one_hot(y, model.n_classes).to(h.dtype)",
     "p = next(model.parameters())\n    one_hot = F.one_hot(y, model.n_classes).to(dtype=p.dtype, device=p.device)",
     "test_labelled_bound"),
    # tensors made on the CPU, whatever the device of h: a GPU's tensors then fail (the checks run the call as on a GPU)
    ("08_semi_supervised", "labelled-noise-made-on-the-cpu", "labelled_bound",
     "z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)",
     "z = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, dtype=mu.dtype)", "test_labelled_bound"),
    ("08_semi_supervised", "labelled-one-hot-made-on-the-cpu", "labelled_bound",
     "one_hot = F.one_hot(y, model.n_classes).to(h.dtype)", "one_hot = torch.eye(model.n_classes, dtype=h.dtype)[y]",
     "test_labelled_bound"),
    # the same behind torch.distributions objects, which validate their arguments by reading their values: a prior
    # made on the CPU, a CPU noise added to q's mean
    ("08_semi_supervised", "labelled-prior-made-on-the-cpu-behind-a-normal", "labelled_bound",
     "kl = 0.5 * (logvar.exp() + mu.pow(2) - 1.0 - logvar).sum(1)",
     "q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))\n"
     "    prior = torch.distributions.Normal(torch.zeros(mu.shape), torch.ones(mu.shape))\n"
     "    kl = torch.distributions.kl_divergence(q, prior).sum(1)", "test_labelled_bound"),
    ("08_semi_supervised", "labelled-noise-made-on-the-cpu-behind-a-normal", "labelled_bound",
     "z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)",
     "q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))\n    z = mu + q.stddev * torch.randn(mu.shape)",
     "test_labelled_bound"),
    ("08_semi_supervised", "unlabelled-device-from-parameters", "unlabelled_bound",
     "classes = torch.arange(k, device=h.device)", "classes = torch.arange(k, device=next(model.parameters()).device)",
     "test_unlabelled_bound"),
    # the classes made on the CPU, whatever the device of h (as the labelled bound's tensors above)
    ("08_semi_supervised", "unlabelled-classes-made-on-the-cpu", "unlabelled_bound",
     "classes = torch.arange(k, device=h.device)", "classes = torch.arange(k)", "test_unlabelled_bound"),
    ("08_semi_supervised", "unlabelled-classes-made-on-the-cpu-behind-a-categorical", "unlabelled_bound",
     "classes = torch.arange(k, device=h.device).repeat(len(h))\n"
     "    table = labelled_bound(model, h.repeat_interleave(k, dim=0), classes).view(len(h), k)\n"
     "    log_q = F.log_softmax(model.classify(h), dim=1)\n"
     "    return (log_q.exp() * (table - log_q)).sum(1)",
     "q_y = torch.distributions.Categorical(logits=model.classify(h))\n"
     "    classes = torch.arange(k).repeat(len(h))\n"
     "    table = labelled_bound(model, h.repeat_interleave(k, dim=0), classes).view(len(h), k)\n"
     "    return (q_y.probs * table).sum(1) + q_y.entropy()", "test_unlabelled_bound"),
    # the checks say so in the course's words, not with backward's bare RuntimeError
    ("08_semi_supervised", "unlabelled-result-detached", "unlabelled_bound",
     "return (log_q.exp() * (table - log_q)).sum(1)", "return (log_q.exp() * (table - log_q)).sum(1).detach()",
     "test_unlabelled_bound"),
    ("08_semi_supervised", "unlabelled-codes-detached", "unlabelled_bound",
     "k = model.n_classes", "h = h.detach()\n    k = model.n_classes", "test_unlabelled_bound"),
    ("08_semi_supervised", "unlabelled-codes-and-classes-mispaired", "unlabelled_bound",
     "h.repeat_interleave(k, dim=0)", "h.repeat(k, 1)", "test_unlabelled_bound"),
    ("08_semi_supervised", "unlabelled-class-sampled", "unlabelled_bound",
     "    table = labelled_bound(model, h.repeat_interleave(k, dim=0), classes).view(len(h), k)\n"
     "    log_q = F.log_softmax(model.classify(h), dim=1)\n"
     "    return (log_q.exp() * (table - log_q)).sum(1)",
     "    log_q = F.log_softmax(model.classify(h), dim=1)\n"
     "    y = torch.distributions.Categorical(logits=log_q).sample()\n"
     "    return labelled_bound(model, h, y) - log_q.gather(1, y[:, None]).squeeze(1)", "test_unlabelled_bound"),
    ("08_semi_supervised", "unlabelled-entropy-subtracted", "unlabelled_bound",
     "(log_q.exp() * (table - log_q)).sum(1)", "(log_q.exp() * (table + log_q)).sum(1)", "test_unlabelled_bound"),
    # each class weighted alike: q(y | h) neither weights the bounds nor adds its entropy
    ("08_semi_supervised", "unlabelled-classes-averaged", "unlabelled_bound",
     "(log_q.exp() * (table - log_q)).sum(1)", "table.mean(1) + 0 * log_q.sum(1)", "test_unlabelled_bound"),
    ("08_semi_supervised", "unlabelled-entropy-left-out", "unlabelled_bound",
     "(log_q.exp() * (table - log_q)).sum(1)", "(log_q.exp() * table).sum(1)", "test_unlabelled_bound"),
    ("08_semi_supervised", "unlabelled-weights-detached", "unlabelled_bound",
     "log_q = F.log_softmax(model.classify(h), dim=1)", "log_q = F.log_softmax(model.classify(h), dim=1).detach()",
     "test_unlabelled_bound"),
    ("08_semi_supervised", "unlabelled-weights-detached-entropy-kept", "unlabelled_bound",
     "return (log_q.exp() * (table - log_q)).sum(1)",
     "return (log_q.exp().detach() * table).sum(1) - (log_q.exp() * log_q).sum(1)", "test_unlabelled_bound"),
    ("08_semi_supervised", "unlabelled-softmax-over-the-batch", "unlabelled_bound",
     "log_q = F.log_softmax(model.classify(h), dim=1)", "log_q = F.log_softmax(model.classify(h), dim=0)",
     "test_unlabelled_bound"),
    ("08_semi_supervised", "unlabelled-logits-as-log-probabilities", "unlabelled_bound",
     "log_q = F.log_softmax(model.classify(h), dim=1)", "log_q = model.classify(h)", "test_unlabelled_bound"),
    # the classes as integers beside the codes, where the networks take them one-hot
    ("08_semi_supervised", "labelled-classes-as-integers", "labelled_bound",
     "one_hot = F.one_hot(y, model.n_classes).to(h.dtype)", "one_hot = y", "test_labelled_bound"),
    # the K · batch classes paired with the batch codes, not repeated
    ("08_semi_supervised", "unlabelled-codes-not-repeated", "unlabelled_bound",
     "labelled_bound(model, h.repeat_interleave(k, dim=0), classes)", "labelled_bound(model, h, classes)",
     "test_unlabelled_bound"),
    # tensors that reach the CPU otherwise than by a factory without a device, which on a GPU meet h there and fail:
    # draws of a standard Normal of plain numbers, a device named "cpu", an input moved to the CPU, a 1-dim
    # one-element log p(y), and CPU rows indexed by the labels (PyTorch refuses GPU indices into a CPU tensor)
    ("08_semi_supervised", "labelled-standard-normal-rsample-on-the-cpu", "labelled_bound",
     "z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)",
     "z = mu + torch.exp(0.5 * logvar) * torch.distributions.Normal(0., 1.).rsample(mu.shape)", "test_labelled_bound"),
    ("08_semi_supervised", "labelled-noise-on-a-device-named-cpu", "labelled_bound",
     "z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)",
     "z = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, device='cpu')", "test_labelled_bound"),
    ("08_semi_supervised", "labelled-one-hot-of-the-labels-moved-to-the-cpu", "labelled_bound",
     "one_hot = F.one_hot(y, model.n_classes).to(h.dtype)", "one_hot = F.one_hot(y.cpu(), model.n_classes).float()",
     "test_labelled_bound"),
    ("08_semi_supervised", "labelled-log-prior-as-a-1-dim-cpu-tensor", "labelled_bound",
     "- math.log(model.n_classes)", "- torch.log(torch.tensor([float(model.n_classes)]))", "test_labelled_bound"),
    ("08_semi_supervised", "labelled-cpu-identity-indexed-by-the-labels", "labelled_bound",
     "one_hot = F.one_hot(y, model.n_classes).to(h.dtype)", "one_hot = torch.eye(model.n_classes)[y].to(h)",
     "test_labelled_bound"),
    ("08_semi_supervised", "labelled-cpu-one-hot-filled-at-the-labels", "labelled_bound",
     "one_hot = F.one_hot(y, model.n_classes).to(h.dtype)",
     "one_hot = torch.zeros(len(y), model.n_classes)\n"
     "    one_hot[torch.arange(len(y)), y] = 1.0\n"
     "    one_hot = one_hot.to(h)", "test_labelled_bound"),
    ("08_semi_supervised", "unlabelled-classes-moved-to-the-cpu", "unlabelled_bound",
     "torch.arange(k, device=h.device).repeat(len(h))", "torch.arange(k, device=h.device).repeat(len(h)).cpu()",
     "test_unlabelled_bound"),
    ("08_semi_supervised", "unlabelled-classes-on-a-device-named-cpu", "unlabelled_bound",
     "classes = torch.arange(k, device=h.device)", "classes = torch.arange(k, device='cpu')", "test_unlabelled_bound"),
    # tensors made where torch's functions do not see them, or on a device made in code: on the CPU, also on a GPU
    ("06_collapse_and_inference", "free-bits-floor-as-a-legacy-tensor", "free_bits_kl",
     "return kl.mean(dim=0).clamp(min=free_bits).sum()",
     "return torch.max(kl.mean(dim=0), torch.Tensor([free_bits])).sum()", "test_free_bits_kl"),
    # the floor expanded to the means' shape: expand_as takes only their shape, and the floor stays on the CPU
    ("06_collapse_and_inference", "free-bits-floor-expanded-on-the-cpu", "free_bits_kl",
     "return kl.mean(dim=0).clamp(min=free_bits).sum()",
     "m = kl.mean(dim=0)\n    return torch.maximum(m, torch.tensor(free_bits).expand_as(m)).sum()", "test_free_bits_kl"),
    ("06_collapse_and_inference", "aggregate-log-n-as-a-legacy-tensor", "log_aggregate_posterior",
     "dim=1) - math.log(len(mu))", "dim=1) - torch.Tensor([len(mu)]).log()", "test_log_aggregate_posterior"),
    # a NumPy round trip: a GPU's tensor refuses .numpy()
    ("06_collapse_and_inference", "aggregate-logsumexp-in-numpy", "log_aggregate_posterior",
     "torch.logsumexp(q.log_prob(part.unsqueeze(1)).sum(-1), dim=1)",
     "torch.from_numpy(__import__('numpy').logaddexp.reduce(q.log_prob(part.unsqueeze(1)).sum(-1).numpy(), axis=1))",
     "test_log_aggregate_posterior"),
    ("08_semi_supervised", "unlabelled-classes-on-a-device-chosen-in-the-call", "unlabelled_bound",
     "classes = torch.arange(k, device=h.device)",
     "classes = torch.arange(k, device=torch.device('cuda' if torch.cuda.is_available() else 'cpu'))",
     "test_unlabelled_bound"),
    ("08_semi_supervised", "labelled-noise-from-a-legacy-constructor", "labelled_bound",
     "torch.randn_like(mu)", "torch.Tensor(*mu.shape).normal_()", "test_labelled_bound"),
    # a NumPy round trip: right on the CPU, but a GPU's tensors refuse .numpy()
    ("09_vq_vae", "nearest-in-numpy", "nearest_codes",
     "return distances.argmin(-1)", "return torch.from_numpy(distances.detach().numpy().argmin(-1))", "test_nearest_codes"),
    ("09_vq_vae", "nearest-ignores-the-codebook-norms", "nearest_codes",
     " - 2 * z_e @ codebook.T + (codebook ** 2).sum(-1)", " - 2 * z_e @ codebook.T", "test_nearest_codes"),
    ("09_vq_vae", "nearest-over-the-vectors", "nearest_codes",
     "return distances.argmin(-1)", "return distances.argmin(0)", "test_nearest_codes"),
    ("09_vq_vae", "nearest-farthest", "nearest_codes",
     "return distances.argmin(-1)", "return distances.argmax(-1)", "test_nearest_codes"),
    ("09_vq_vae", "nearest-returns-the-distances", "nearest_codes",
     "return distances.argmin(-1)", "return distances.min(-1).values", "test_nearest_codes"),
    # the distances by broadcasting, through the (..., K, D) table of differences the text asks to do without
    ("09_vq_vae", "nearest-builds-the-table-of-differences", "nearest_codes",
     "distances = (z_e ** 2).sum(-1, keepdim=True) - 2 * z_e @ codebook.T + (codebook ** 2).sum(-1)",
     "distances = ((z_e.unsqueeze(-2) - codebook) ** 2).sum(-1)", "test_nearest_codes"),
    ("09_vq_vae", "nearest-norms-of-the-table-of-differences", "nearest_codes",
     "distances = (z_e ** 2).sum(-1, keepdim=True) - 2 * z_e @ codebook.T + (codebook ** 2).sum(-1)",
     "distances = (z_e[..., None, :] - codebook).norm(dim=-1)", "test_nearest_codes"),
    # the sum of absolute differences: on the toy's first 4 vectors it picks the same codes as the Euclidean distance
    ("09_vq_vae", "nearest-in-the-l1-distance", "nearest_codes",
     "distances = (z_e ** 2).sum(-1, keepdim=True) - 2 * z_e @ codebook.T + (codebook ** 2).sum(-1)",
     "distances = (z_e.unsqueeze(-2) - codebook).abs().sum(-1)", "test_nearest_codes"),
    ("09_vq_vae", "quantise-gradient-blocked", "quantise",
     "return z_e + (e - z_e).detach(), codebook_loss", "return e, codebook_loss", "test_quantise"),
    # the decoder's gradient kept off the codebook, as the text asks, but the straight-through path to z_e left out
    ("09_vq_vae", "quantise-detached-code", "quantise",
     "return z_e + (e - z_e).detach(), codebook_loss", "return e.detach(), codebook_loss", "test_quantise"),
    ("09_vq_vae", "quantise-decoder-gradient-reaches-the-codebook", "quantise",
     "return z_e + (e - z_e).detach(), codebook_loss", "return e + (z_e - z_e.detach()), codebook_loss",
     "test_quantise"),
    ("09_vq_vae", "quantise-commitment-on-the-wrong-side", "quantise",
     "commitment_loss = ((z_e - e.detach()) ** 2)", "commitment_loss = ((z_e.detach() - e) ** 2)", "test_quantise"),
    ("09_vq_vae", "quantise-codebook-loss-without-stop-gradient", "quantise",
     "codebook_loss = ((z_e.detach() - e) ** 2)", "codebook_loss = ((z_e - e) ** 2)", "test_quantise"),
    ("09_vq_vae", "quantise-losses-swapped", "quantise",
     "return z_e + (e - z_e).detach(), codebook_loss, commitment_loss",
     "return z_e + (e - z_e).detach(), commitment_loss, codebook_loss", "test_quantise"),
    ("09_vq_vae", "quantise-codebook-loss-averaged-over-every-number", "quantise",
     "codebook_loss = ((z_e.detach() - e) ** 2).sum() / images", "codebook_loss = ((z_e.detach() - e) ** 2).mean()",
     "test_quantise"),
    # the paper's beta = 0.25 applied inside quantise, where the training loss applies it
    ("09_vq_vae", "quantise-commitment-weighted-by-beta", "quantise",
     "commitment_loss = ((z_e - e.detach()) ** 2).sum() / images",
     "commitment_loss = 0.25 * ((z_e - e.detach()) ** 2).sum() / images", "test_quantise"),
    ("09_vq_vae", "quantise-commitment-detached-entirely", "quantise",
     "commitment_loss = ((z_e - e.detach()) ** 2)", "commitment_loss = ((z_e.detach() - e.detach()) ** 2)",
     "test_quantise"),
    ("09_vq_vae", "quantise-codes-picked-in-float32", "quantise",
     "e = codebook[codes]", "e = F.one_hot(codes, len(codebook)).float() @ codebook", "test_quantise"),
    ("09_vq_vae", "quantise-searches-the-nearest-codes-again", "quantise",
     "e = codebook[codes]", "e = codebook[torch.cdist(z_e.detach(), codebook.detach().expand(*z_e.shape[:-2], -1, -1))"
     ".argmin(-1)]", "test_quantise"),
    # the D numbers of each vector averaged, not summed: on the toy (2 vectors of 2 numbers) as large as averaging
    # over the vectors, and the checks' hint must name the right one
    ("09_vq_vae", "quantise-losses-averaged-over-d", "quantise",
     "    codebook_loss = ((z_e.detach() - e) ** 2).sum() / images\n"
     "    commitment_loss = ((z_e - e.detach()) ** 2).sum() / images",
     "    codebook_loss = ((z_e.detach() - e) ** 2).mean(-1).sum() / images\n"
     "    commitment_loss = ((z_e - e.detach()) ** 2).mean(-1).sum() / images", "test_quantise"),
    # review 13 (B): an answer that knows only the sizes the visible checks use (a table of them, stood in for)
    ("09_vq_vae", "causal-mask-for-the-checked-sizes-only", "causal_mask",
     "    mask = torch.ones(size, size)\n", "    assert size in (1, 3, 5, 7)\n    mask = torch.ones(size, size)\n",
     "test_causal_mask"),
    ("09_vq_vae", "causal-mask-flipped-as-a-convolution", "causal_mask",
     "mask[centre, centre + (0 if first else 1):] = 0  # the centre row from the position itself (first) or after it\n"
     "    mask[centre + 1:] = 0  # the rows below",
     "mask[centre, :centre + (1 if first else 0)] = 0\n    mask[:centre] = 0", "test_causal_mask"),
    ("09_vq_vae", "causal-mask-first-and-later-swapped", "causal_mask",
     "(0 if first else 1)", "(1 if first else 0)", "test_causal_mask"),
    ("09_vq_vae", "causal-mask-keeps-the-rows-below", "causal_mask",
     "    mask[centre + 1:] = 0  # the rows below\n", "", "test_causal_mask"),
    ("09_vq_vae", "causal-mask-in-column-order", "causal_mask",
     "mask[centre, centre + (0 if first else 1):] = 0  # the centre row from the position itself (first) or after it\n"
     "    mask[centre + 1:] = 0  # the rows below",
     "mask[centre + (0 if first else 1):, centre] = 0\n    mask[:, centre + 1:] = 0", "test_causal_mask"),
    ("09_vq_vae", "causal-mask-every-layer-without-its-position", "causal_mask",
     "(0 if first else 1)", "0", "test_causal_mask"),
    ("09_vq_vae", "causal-mask-every-layer-with-its-position", "causal_mask",
     "(0 if first else 1)", "1", "test_causal_mask"),
    ("09_vq_vae", "causal-mask-drops-the-row-above-to-the-right", "causal_mask",
     "    mask[centre + 1:] = 0  # the rows below\n", "    mask[centre + 1:] = 0\n    mask[:centre, centre + 1:] = 0\n",
     "test_causal_mask"),
    # 10_colour_images: the discretised logistic, then bits per dimension
    ("10_colour_images", "dlogistic-no-edge-bins", "discretised_logistic_log_prob",
     "return torch.where(x < half_bin, first, torch.where(x > 1 - half_bin, last, inside))", "return inside",
     "test_discretised_logistic_log_prob"),
    ("10_colour_images", "dlogistic-edges-swapped", "discretised_logistic_log_prob",
     "return torch.where(x < half_bin, first, torch.where(x > 1 - half_bin, last, inside))",
     "return torch.where(x < half_bin, last, torch.where(x > 1 - half_bin, first, inside))",
     "test_discretised_logistic_log_prob"),
    # -inf where the bin's two sigmoids both round to 1 (a pixel 40 scales above its mean)
    ("10_colour_images", "dlogistic-log-of-a-difference-of-sigmoids", "discretised_logistic_log_prob",
     "inside = F.logsigmoid(upper) + F.logsigmoid(-lower) + torch.log(-torch.expm1(lower - upper))",
     "inside = torch.log(torch.sigmoid(upper) - torch.sigmoid(lower))", "test_discretised_logistic_log_prob"),
    # float64 only moves the rounding: 1 - sigmoid(40) is below float64's resolution near 1
    ("10_colour_images", "dlogistic-difference-of-sigmoids-in-float64", "discretised_logistic_log_prob",
     "inside = F.logsigmoid(upper) + F.logsigmoid(-lower) + torch.log(-torch.expm1(lower - upper))",
     "inside = torch.log(torch.sigmoid(upper.double()) - torch.sigmoid(lower.double())).to(x.dtype)",
     "test_discretised_logistic_log_prob"),
    # finite, but wrong wherever the true mass is below the clamp
    ("10_colour_images", "dlogistic-difference-clamped", "discretised_logistic_log_prob",
     "inside = F.logsigmoid(upper) + F.logsigmoid(-lower) + torch.log(-torch.expm1(lower - upper))",
     "inside = torch.log((torch.sigmoid(upper) - torch.sigmoid(lower)).clamp(min=1e-12))",
     "test_discretised_logistic_log_prob"),
    # log(sigmoid(-1096)) = log(0) at an edge level far from its mean
    ("10_colour_images", "dlogistic-edges-as-log-of-sigmoid", "discretised_logistic_log_prob",
     "first, last = F.logsigmoid(upper), F.logsigmoid(-lower)",
     "first, last = torch.log(torch.sigmoid(upper)), torch.log(1 - torch.sigmoid(lower))",
     "test_discretised_logistic_log_prob"),
    ("10_colour_images", "dlogistic-log-scale-read-as-scale", "discretised_logistic_log_prob",
     "inverse_scale = torch.exp(-log_scale)", "inverse_scale = 1 / log_scale", "test_discretised_logistic_log_prob"),
    # PixelCNN++'s half-bin on [-1, 1], used on [0, 1]: each bin two levels wide
    ("10_colour_images", "dlogistic-bins-two-levels-wide", "discretised_logistic_log_prob",
     "half_bin = 0.5 / 255", "half_bin = 1 / 255", "test_discretised_logistic_log_prob"),
    ("10_colour_images", "bpd-nats-reported-as-bits", "bits_per_dim",
     "return nll / (dimensions * math.log(2)) + math.log2(scale)", "return nll / dimensions + math.log2(scale)",
     "test_bits_per_dim"),
    ("10_colour_images", "bpd-not-divided-by-the-dimensions", "bits_per_dim",
     "return nll / (dimensions * math.log(2)) + math.log2(scale)", "return nll / math.log(2) + math.log2(scale)",
     "test_bits_per_dim"),
    # the whole figure in nats, offset included (ln 256 instead of 8): ln 2 times the expected values
    ("10_colour_images", "bpd-all-in-nats", "bits_per_dim",
     "return nll / (dimensions * math.log(2)) + math.log2(scale)", "return nll / dimensions + math.log(scale)",
     "test_bits_per_dim"),
    # bits per image: 3072 times the expected values
    ("10_colour_images", "bpd-bits-per-image", "bits_per_dim",
     "return nll / (dimensions * math.log(2)) + math.log2(scale)",
     "return nll / math.log(2) + dimensions * math.log2(scale)", "test_bits_per_dim"),
    ("10_colour_images", "bpd-offset-left-out", "bits_per_dim",
     "return nll / (dimensions * math.log(2)) + math.log2(scale)", "return nll / (dimensions * math.log(2))",
     "test_bits_per_dim"),
    ("10_colour_images", "bpd-offset-subtracted", "bits_per_dim",
     "return nll / (dimensions * math.log(2)) + math.log2(scale)",
     "return nll / (dimensions * math.log(2)) - math.log2(scale)", "test_bits_per_dim"),
    ("10_colour_images", "bpd-eight-bits-whatever-the-scale", "bits_per_dim",
     "return nll / (dimensions * math.log(2)) + math.log2(scale)", "return nll / (dimensions * math.log(2)) + 8",
     "test_bits_per_dim"),
    ("10_colour_images", "bpd-255-levels", "bits_per_dim",
     "return nll / (dimensions * math.log(2)) + math.log2(scale)",
     "return nll / (dimensions * math.log(2)) + math.log2(max(scale - 1, 1))", "test_bits_per_dim"),
    ("10_colour_images", "bpd-channels-as-the-dimensions", "bits_per_dim",
     "dimensions = math.prod(image_shape)", "dimensions = image_shape[0]", "test_bits_per_dim"),
    # tensors of more than one element made without a device: on a GPU they stay on the CPU, away from the inputs
    ("10_colour_images", "dlogistic-half-bins-made-on-the-cpu", "discretised_logistic_log_prob",
     "half_bin = 0.5 / 255", "half_bin = torch.full(x.shape, 0.5 / 255)", "test_discretised_logistic_log_prob"),
    ("10_colour_images", "bpd-offset-made-on-the-cpu", "bits_per_dim",
     "return nll / (dimensions * math.log(2)) + math.log2(scale)",
     "return nll / (dimensions * math.log(2)) + torch.full(nll.shape, math.log2(scale))", "test_bits_per_dim"),
    # one element, but one dimension: on a GPU only a 0-dim CPU tensor mixes with the inputs
    ("10_colour_images", "bpd-offset-a-one-element-cpu-tensor", "bits_per_dim",
     "return nll / (dimensions * math.log(2)) + math.log2(scale)",
     "return nll / (dimensions * math.log(2)) + torch.tensor([math.log2(scale)])", "test_bits_per_dim"),
    # PixelCNN++'s recipe (Salimans et al. 2017) on [0, 1]: the sigmoids' difference where it is above 1e-5, else the
    # density at the bin's centre times the bin's width, 0.68 nats off a few levels from the mean at log_scale -7
    ("10_colour_images", "dlogistic-pixelcnnpp-density-at-the-centre", "discretised_logistic_log_prob",
     "inside = F.logsigmoid(upper) + F.logsigmoid(-lower) + torch.log(-torch.expm1(lower - upper))",
     "centre = (x - mean) * inverse_scale\n"
     "    cdf_delta = torch.sigmoid(upper) - torch.sigmoid(lower)\n"
     "    log_pdf_centre = centre - log_scale - 2 * F.softplus(centre)\n"
     "    inside = torch.where(cdf_delta > 1e-5, torch.log(cdf_delta.clamp(min=1e-12)), log_pdf_centre - math.log(255))",
     "test_discretised_logistic_log_prob"),
    # the log of a difference of two log-sigmoids' exponentials: both log-sigmoids round to 0 once the pixel is
    # about 90 scales above its mean, and the clamp turns the -inf into a value hundreds of nats off
    ("10_colour_images", "dlogistic-log-sigmoids-subtracted-clamped", "discretised_logistic_log_prob",
     "inside = F.logsigmoid(upper) + F.logsigmoid(-lower) + torch.log(-torch.expm1(lower - upper))",
     "inside = F.logsigmoid(upper) + torch.log((-torch.expm1(F.logsigmoid(lower) - F.logsigmoid(upper))).clamp(min=1e-30))",
     "test_discretised_logistic_log_prob"),
    # right for the scales 256 and 1 only
    ("10_colour_images", "bpd-offset-special-cased", "bits_per_dim",
     "return nll / (dimensions * math.log(2)) + math.log2(scale)",
     "return nll / (dimensions * math.log(2)) + (8 if scale == 256 else 0)", "test_bits_per_dim"),
    # a term cut from the graph: the values stay exact, the gradient in log_scale does not
    ("10_colour_images", "dlogistic-bin-width-term-detached", "discretised_logistic_log_prob",
     "inside = F.logsigmoid(upper) + F.logsigmoid(-lower) + torch.log(-torch.expm1(lower - upper))",
     "inside = F.logsigmoid(upper) + F.logsigmoid(-lower) + torch.log(-torch.expm1(lower - upper)).detach()",
     "test_discretised_logistic_log_prob"),
    ("10_colour_images", "dlogistic-result-detached", "discretised_logistic_log_prob",
     "return torch.where(x < half_bin, first, torch.where(x > 1 - half_bin, last, inside))",
     "return torch.where(x < half_bin, first, torch.where(x > 1 - half_bin, last, inside)).detach()",
     "test_discretised_logistic_log_prob"),
    # the log of the sigmoids' difference where it is finite: right near the mean, digits lost a dozen scales above it
    # the dimensions of a square colour picture only
    ("10_colour_images", "bpd-dimensions-of-a-square-picture", "bits_per_dim",
     "dimensions = math.prod(image_shape)", "dimensions = image_shape[0] * image_shape[-1] ** 2", "test_bits_per_dim"),
    # the dimensions of one picture, its channels, height and width: a shape with more entries is counted short
    ("10_colour_images", "bpd-dimensions-of-the-last-three-entries", "bits_per_dim",
     "dimensions = math.prod(image_shape)", "dimensions = math.prod(image_shape[-3:])", "test_bits_per_dim"),
    # the entropy's log q as the log of the softmax: 0 * log 0 = NaN where the classifier is sure (review 16 C)
    ("08_semi_supervised", "unlabelled-log-of-the-softmax", "unlabelled_bound",
     "    log_q = F.log_softmax(model.classify(h), dim=1)\n    return (log_q.exp() * (table - log_q)).sum(1)",
     "    q = torch.softmax(model.classify(h), dim=1)\n    return (q * (table - q.log())).sum(1)", "test_unlabelled_bound"),
    # the identity's last factor with its sign flipped: e^d - 1 for 1 - e^(-d), every level e^d times too likely
    ("10_colour_images", "dlogistic-expm1-of-the-width-with-its-sign-flipped", "discretised_logistic_log_prob",
     "torch.log(-torch.expm1(lower - upper))", "torch.log(torch.expm1(upper - lower))",
     "test_discretised_logistic_log_prob"),
    # the difference of the two CDFs taken through their logs: exp of the difference of log-CDFs near 0 rounds to 1
    ("10_colour_images", "dlogistic-difference-of-log-cdfs", "discretised_logistic_log_prob",
     "    inside = F.logsigmoid(upper) + F.logsigmoid(-lower) + torch.log(-torch.expm1(lower - upper))\n",
     "    inside = F.logsigmoid(upper) + torch.log1p(-torch.exp(F.logsigmoid(lower) - F.logsigmoid(upper)))\n",
     "test_discretised_logistic_log_prob"),
    ("10_colour_images", "dlogistic-difference-of-sigmoids-where-finite", "discretised_logistic_log_prob",
     "inside = F.logsigmoid(upper) + F.logsigmoid(-lower) + torch.log(-torch.expm1(lower - upper))",
     "inside = torch.log(torch.sigmoid(upper) - torch.sigmoid(lower))\n"
     "    inside = torch.where(torch.isfinite(inside), inside,\n"
     "                         F.logsigmoid(upper) + F.logsigmoid(-lower) + torch.log(-torch.expm1(lower - upper)))",
     "test_discretised_logistic_log_prob"),
    ("10_colour_images", "dlogistic-bins-of-1-256", "discretised_logistic_log_prob",
     "half_bin = 0.5 / 255", "half_bin = 0.5 / 256", "test_discretised_logistic_log_prob"),
    ("10_colour_images", "bpd-offset-once-per-image", "bits_per_dim",
     "return nll / (dimensions * math.log(2)) + math.log2(scale)",
     "return (nll + math.log(scale)) / (dimensions * math.log(2))", "test_bits_per_dim"),
    # log P's relatives returned instead of it: P itself, -log P, log P in bits
    ("10_colour_images", "dlogistic-probability-not-its-log", "discretised_logistic_log_prob",
     "return torch.where(x < half_bin, first, torch.where(x > 1 - half_bin, last, inside))",
     "return torch.where(x < half_bin, first, torch.where(x > 1 - half_bin, last, inside)).exp()",
     "test_discretised_logistic_log_prob"),
    ("10_colour_images", "dlogistic-negative-log-probability", "discretised_logistic_log_prob",
     "return torch.where(x < half_bin, first, torch.where(x > 1 - half_bin, last, inside))",
     "return -torch.where(x < half_bin, first, torch.where(x > 1 - half_bin, last, inside))",
     "test_discretised_logistic_log_prob"),
    ("10_colour_images", "dlogistic-log-probability-in-bits", "discretised_logistic_log_prob",
     "return torch.where(x < half_bin, first, torch.where(x > 1 - half_bin, last, inside))",
     "return torch.where(x < half_bin, first, torch.where(x > 1 - half_bin, last, inside)) / math.log(2)",
     "test_discretised_logistic_log_prob"),
    ("10_colour_images", "bpd-nll-read-as-log-density", "bits_per_dim",
     "return nll / (dimensions * math.log(2)) + math.log2(scale)",
     "return -nll / (dimensions * math.log(2)) + math.log2(scale)", "test_bits_per_dim"),
    # inputs changed in place: the caller's decoder outputs and losses
    ("10_colour_images", "dlogistic-mean-clamped-in-place", "discretised_logistic_log_prob",
     "inverse_scale = torch.exp(-log_scale)", "inverse_scale = torch.exp(-log_scale)\n    mean.clamp_(0, 1)",
     "test_discretised_logistic_log_prob"),
    # every interior level given the density at its centre times the bin's width (no edge-of-bin CDFs at all)
    ("10_colour_images", "dlogistic-density-times-width-everywhere", "discretised_logistic_log_prob",
     "inside = F.logsigmoid(upper) + F.logsigmoid(-lower) + torch.log(-torch.expm1(lower - upper))",
     "centre = (x - mean) * inverse_scale\n"
     "    inside = -centre - 2 * F.softplus(-centre) - log_scale - math.log(255)",
     "test_discretised_logistic_log_prob"),
    # a copy of the mean clamped to [0, 1]: wrong exactly where a decoder's mean lies beyond the levels
    ("10_colour_images", "dlogistic-mean-clamped", "discretised_logistic_log_prob",
     "inverse_scale = torch.exp(-log_scale)", "inverse_scale = torch.exp(-log_scale)\n    mean = mean.clamp(0, 1)",
     "test_discretised_logistic_log_prob"),
    ("10_colour_images", "bpd-nll-divided-in-place", "bits_per_dim",
     "return nll / (dimensions * math.log(2)) + math.log2(scale)",
     "nll /= dimensions * math.log(2)\n    return nll + math.log2(scale)", "test_bits_per_dim"),
    # review 8 (A): a draw whose scale is cut from the graph, a KL turned into a number, the ELBO's variance path cut,
    # and mistakes whose hint named another cause
    ("01_elbo", "elbo-variance-detached", "elbo",
     "model.decoder_mean(reparameterize(q_mu, q_logvar))", "model.decoder_mean(reparameterize(q_mu, q_logvar.detach()))",
     "test_elbo"),
    ("01_elbo", "gaussian-sign-flipped", "log_likelihoods",
     "per_entry = -0.5 * (math.log(2 * math.pi)", "per_entry = 0.5 * (math.log(2 * math.pi)", "test_log_likelihoods"),
    ("02_dense_vae", "scale-detached-in-the-draw", "dense_vae",
     "z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)",
     "z = mu + torch.exp(0.5 * logvar).detach() * torch.randn_like(mu)", "test_dense_vae"),
    ("02_dense_vae", "kl-as-a-number-in-the-loss", "vae_loss",
     "return reconstruction + beta * kl, reconstruction, kl", "return reconstruction + beta * kl.item(), reconstruction, kl",
     "test_vae_loss"),
    ("02_dense_vae", "gaussian-floor-on-the-log-scale", "gaussian_nll",
     "scale = log_scale.exp().clamp(min=min_scale)", "scale = log_scale.clamp(min=math.log(min_scale)).exp()",
     "test_gaussian_nll"),
    ("03_conv_vae", "scale-detached-in-the-draw", "conv_vae_forward",
     "z = q.rsample()", "z = q.loc + q.scale.detach() * torch.randn_like(q.loc)", "test_conv_vae_forward"),
    ("04_conditional_vae", "scale-detached-in-the-draw", "conditional_vae",
     "z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)",
     "z = mu + torch.exp(0.5 * logvar).detach() * torch.randn_like(mu)", "test_conditional_vae"),
    ("04_conditional_vae", "torch-normal", "conditional_vae",
     "z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)", "z = torch.normal(mu, torch.exp(0.5 * logvar))",
     "test_conditional_vae"),
    ("04_conditional_vae", "sample-without-gradient", "conditional_vae",
     "z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)",
     "z = torch.distributions.Normal(mu, torch.exp(0.5 * logvar)).sample()", "test_conditional_vae"),
    ("04_conditional_vae", "kl-as-a-number-in-the-loss", "cvae_loss",
     'return {"loss": reconstruction + beta * kl,', 'return {"loss": reconstruction + beta * kl.item(),', "test_cvae_loss"),
    ("04_conditional_vae", "logvar-detached-in-the-kl", "cvae_loss",
     "kl = 0.5 * (logvar.exp() + mu.pow(2) - 1.0 - logvar)", "kl = 0.5 * (logvar.exp() + mu.pow(2) - 1.0 - logvar.detach())",
     "test_cvae_loss"),
    ("05_beta_vae", "class-information-kl-reversed", "class_information",
     "terms = torch.where(joint > 0, joint * (joint / independent).log(), torch.zeros_like(joint))",
     "terms = torch.where(joint > 0, independent * (independent / joint).log(), torch.zeros_like(joint))",
     "test_class_information"),
    ("05_categorical_clustering", "kl-softmax-over-the-batch", "categorical_kl_to_uniform",
     "log_probs = F.log_softmax(logits, dim=-1)", "log_probs = F.log_softmax(logits, dim=0)",
     "test_categorical_kl_to_uniform"),
    ("05_categorical_clustering", "capacity-balance-as-the-mean-kl", "capacity_penalty",
     "return gamma * (kl.mean() - capacity).abs() + gamma * balance", "return gamma * (kl.mean() - capacity).abs() + gamma * kl.mean()",
     "test_capacity_penalty"),
    ("05_categorical_clustering", "capacity-balance-detached", "capacity_penalty",
     "return gamma * (kl.mean() - capacity).abs() + gamma * balance",
     "return gamma * (kl.mean() - capacity).abs() + gamma * balance.detach()", "test_capacity_penalty"),
]


# the mistakes that the visible checks must catch (nbgrader's Validate fails on them), each with the words its
# message must hold: the cause that its wrong value or error shows, not a list of guesses
NAMED_BY_THE_VISIBLE_CHECKS = {
    ("01_elbo", "noise-divided-by-the-std"): ["this is 1 / std"],
    ("01_elbo", "gaussian-averaged-over-entries"): ["the mean over the 4 entries"],
    ("01_elbo", "gaussian-squared-error-not-halved"): ["the squared error's term costs twice what it should"],
    ("05_categorical_clustering", "gumbel-noise-added-in-place"): ["they are the caller's"],
    ("10_colour_images", "dlogistic-without-the-width-factor"): ["the same factor at every level"],
    ("06_collapse_and_inference", "aggregate-log-variance-whole"): ["the log-variances' term counts twice"],
    ("03_conv_vae", "encoder-with-dropout"): ["no dropout or noise in the encoder"],
    ("01_elbo", "sample-without-gradient"): [".sample()"],
    ("01_elbo", "torch-normal"): ["torch.normal(mu, std) passes back zero gradients"],
    ("01_elbo", "elbo-variance-detached"): ["carry gradients to q_logvar"],
    ("01_elbo", "gaussian-mean-rebuilt-with-torch-tensor"): ["d log N(x; mean, exp(logvar)) / d mean",
                                                             "torch.tensor(...) of a tensor"],
    ("01_elbo", "bernoulli-logits-detached"): ["d log p(x|z) / d logits", "requires_grad=False"],
    ("01_elbo", "kl-variance-detached"): ["dKL/dlogvar", "nothing detached"],
    ("01_elbo", "elbo-z-from-the-prior"): ["drawn from the prior"],
    ("02_dense_vae", "forward-posterior-mean-in-eval-mode"): ["in eval mode too"],
    ("02_dense_vae", "gaussian-nll-mean-rebuilt-with-torch-tensor"): ["d gaussian_nll / d mean", "torch.tensor(...)"],
    ("02_dense_vae", "forward-one-noise-for-every-image"): ["every image drew the same z"],
    ("05_categorical_clustering", "gumbel-softmax-over-dim-1"): ["over the last dimension", "dim=-1"],
    ("06_collapse_and_inference", "grid-rows-reversed"): ["in reverse order"],
    ("05_beta_vae", "class-information-one-class-too-few"): ["a column for each class, labels.max() + 1"],
    ("05_categorical_clustering", "capacity-shares-over-the-batch"): ["the mean, over its images, of each image's"],
    ("06_collapse_and_inference", "aggregate-averaged-over-the-codes"): ["not log of the number of codes"],
    ("06_collapse_and_inference", "refine-returns-logvar-first"): ["the other way round"],
    ("02_dense_vae", "train-one-step-after-the-loop"): ["one step after the loop, on the last batch's gradient"],
    ("02_dense_vae", "encoder-tanh-for-relu"): ["positively homogeneous", "nn.ReLU()"],
    ("02_dense_vae", "encoder-with-dropout"): ["no dropout or noise in the encoder"],
    ("04_conditional_vae", "encoder-tanh-for-relu"): ["positively homogeneous", "nn.ReLU()"],
    ("01_elbo", "kl-in-place-on-the-exponential"): ["an in-place operation", "x + y, not x.add_(y)"],
    ("01_elbo", "iwae-copies-read-in-the-other-layout"): ["pools the weights of different observations",
                                                          "one batch after another (x.repeat(k, 1))"],
    ("01_elbo", "gaussian-sign-flipped"): ["not +0.5"],
    ("01_elbo", "kl-sign-flipped"): ["a KL is never negative"],
    ("01_elbo", "kl-averaged-over-latents"): ["the mean over the 5 latent dimensions"],
    ("01_elbo", "kl-squares-mu-in-place"): ["changed its argument mu in place"],
    ("07_richer_posteriors_and_priors", "best-q-by-minimising-the-notebooks-gap"): ["called gap_of_diagonal_q"],
    ("07_richer_posteriors_and_priors", "best-q-by-minimising-a-sampled-kl"): ["without autograd"],
    ("07_richer_posteriors_and_priors", "flow-log1p-of-the-absolute"): ["each row's own Jacobian"],
    ("07_richer_posteriors_and_priors", "flow-log-det-with-tanh-not-its-derivative"): ["not tanh itself"],
    ("01_elbo", "variance-used-as-std"): ["the variance, used as the standard deviation"],
    ("03_conv_vae", "variance-used-as-std"): ["this is exp(logvar), the variance"],
    ("09_vq_vae", "quantise-commitment-weighted-by-beta"): ["belongs to the training loss"],
    ("09_vq_vae", "quantise-codebook-loss-averaged-over-every-number"): ["averaged over every number of an image"],
    ("05_categorical_clustering", "capacity-of-the-shares"): ["the first term compares the capacity"],
    ("05_beta_vae", "warm-up-error-names-nothing"): ["whose message names step"],
    ("05_beta_vae", "warm-up-error-names-only-the-length"): ["whose message names step"],
    ("02_dense_vae", "mu-head-rectified"): ["some mu below 0"],
    ("04_conditional_vae", "mu-head-rectified"): ["some mu below 0"],
    ("04_conditional_vae", "loss-one-hot-width-from-the-batch"): ["whichever labels the batch holds"],
    ("04_conditional_vae", "loss-kl-std-as-the-variance"): ["the kl term with mu = 1 and logvar = log 4"],
    ("08_semi_supervised", "unlabelled-entropy-subtracted"): ["has the wrong sign"],
    ("08_semi_supervised", "unlabelled-entropy-left-out"): ["is missing"],
    ("08_semi_supervised", "unlabelled-classes-averaged"): ["weighs every class alike"],
    ("08_semi_supervised", "unlabelled-logits-as-log-probabilities"): ["logits used as log-probabilities"],
    ("07_richer_posteriors_and_priors", "flow-log-det-without-the-one"): ["without its identity part"],
    ("07_richer_posteriors_and_priors", "flow-log-det-with-sech-not-squared"): ["the tanh squared"],
    ("01_elbo", "pixels-averaged"): ["the mean over the 784 pixels"],
    ("01_elbo", "probabilities-passed-as-logits"): ["no sigmoid first"],
    ("01_elbo", "elbo-kl-added"): ["this is log p(x) + KL"],
    ("01_elbo", "elbo-at-posterior-mean"): ["the ELBO with z = q_mu"],
    ("01_elbo", "elbo-samples-summed"): ["the sum of log p(x|z) over the 500 draws"],
    ("01_elbo", "iw-mean-of-log-weights"): ["not the mean of their logs"],
    ("01_elbo", "iw-one-z-for-all-weights"): ["needs a z of its own"],
    ("01_elbo", "iw-largest-weight"): ["not their largest"],
    ("01_elbo", "gaussian-logvar-made-float32"): ["off by float32's rounding"],
    ("01_elbo", "uniform-noise"): ["a noise of mean 1/2"],
    ("01_elbo", "elbo-one-draw-whatever-n-samples"): ["spread as widely as single draws do"],
    ("01_elbo", "elbo-noise-logvar-exponentiated"): ["a log-variance already"],
    ("01_elbo", "elbo-from-the-toys-exact-posterior"): ["has no attribute 'posterior'", "decoder_mean alone"],
    ("01_elbo", "iw-the-toys-evidence"): ["has no attribute 'log_evidence'", "decoder_mean alone"],
    ("01_elbo", "iw-log-weights-in-float32"): ["off by float32's rounding"],
    ("02_dense_vae", "sample-without-gradient"): [".sample() none"],
    ("02_dense_vae", "torch-normal"): ["torch.normal(mu, sigma) passes back zero gradients"],
    ("02_dense_vae", "logvar-head-is-mu-head"): ["logvar needs a head of its own"],
    ("02_dense_vae", "epoch-mean-a-numpy-float"): ["got numpy.float64"],
    ("02_dense_vae", "scale-detached-in-the-draw"): ["must stay in the graph (no .detach())"],
    ("02_dense_vae", "kl-as-a-number-in-the-loss"): ["keep the KL a tensor in the loss"],
    ("02_dense_vae", "gaussian-floor-on-the-log-scale"): ["math.log(0) fails"],
    ("02_dense_vae", "kl-sign-flipped"): ["a KL is never negative"],
    ("02_dense_vae", "kl-summed-over-batch"): ["the sum over the batch of 4 images"],
    ("02_dense_vae", "pixels-averaged"): ["the mean over the 784 pixels"],
    ("02_dense_vae", "probabilities-passed-as-logits"): ["no sigmoid first"],
    ("02_dense_vae", "gaussian-log-scale-as-log-variance"): ["not of its square"],
    ("02_dense_vae", "gaussian-without-log-scale"): ["the term log s of each pixel is missing"],
    ("02_dense_vae", "gaussian-floor-in-the-squared-error-only"): ["the floored s enters both terms"],
    ("02_dense_vae", "gaussian-pixels-averaged"): ["the mean over the 784 pixels"],
    ("02_dense_vae", "no-optimizer-step"): ["call optimizer.step()"],
    ("02_dense_vae", "no-zero-grad"): ["zero the gradients with the optimizer"],
    ("02_dense_vae", "train-epoch-zeroes-gradients-by-hand"): ["zero the gradients with the optimizer"],
    ("02_dense_vae", "train-epoch-flattens-to-784"): ["images as they come, (batch, 1, 28, 28)"],
    ("02_dense_vae", "train-epoch-unweighted-mean"): ["the mean of the three batches' losses"],
    ("02_dense_vae", "train-epoch-returns-the-last-loss"): ["the mean loss per image over the epoch's 10 images"],
    ("04_conditional_vae", "loss-without-beta"): ["beta weighs the KL in the loss"],
    ("04_conditional_vae", "one-hot-refuses-small-integer-dtypes"): ["is an integer dtype too"],
    ("04_conditional_vae", "one-hot-takes-bool-labels"): ["bool labels"],
    ("04_conditional_vae", "one-hot-indexes-with-the-labels-dtype"): ["labels must work as int64 ones do"],
    ("03_conv_vae", "logvar-head-is-mu-head"): ["logvar needs a head of its own"],
    ("03_conv_vae", "sample-without-gradient"): ["q.sample() cuts it"],
    ("03_conv_vae", "torch-normal"): ["not q.sample() or torch.normal"],
    ("03_conv_vae", "forward-calls-encoder-mu-logvar"): ["nothing else of them"],
    ("03_conv_vae", "scale-detached-in-the-draw"): ["q.scale must stay in the graph"],
    ("03_conv_vae", "kl-sign-flipped"): ["a KL is never negative"],
    ("03_conv_vae", "kl-averaged-over-latents"): ["the mean over the 4 latent dimensions"],
    ("03_conv_vae", "kl-reversed"): ["KL(prior || q), the KL the other way round"],
    ("03_conv_vae", "encoder-without-its-second-relu"): ["a ReLU must follow the second convolution's batch normalisation"],
    ("03_conv_vae", "encoder-relu-before-batchnorm"): ["where each ReLU and batch normalisation stands"],
    ("03_conv_vae", "decoder-without-its-second-dense-relu"): ["a ReLU must follow the second dense layer"],
    ("03_conv_vae", "decoder-without-the-relu-after-its-batchnorm"): ["a ReLU must follow the first transposed convolution's"],
    ("04_conditional_vae", "logvar-head-is-mu-head"): ["logvar needs a head of its own"],
    ("04_conditional_vae", "loss-calls-encode-and-decode"): ["call the model only as model(x, y)"],
    ("04_conditional_vae", "scale-detached-in-the-draw"): ["must stay in the graph (no .detach())"],
    ("04_conditional_vae", "torch-normal"): ["torch.normal(mu, sigma) passes back zero gradients"],
    ("04_conditional_vae", "sample-without-gradient"): [".sample() none"],
    ("04_conditional_vae", "kl-as-a-number-in-the-loss"): ["keep the KL a tensor in the loss"],
    ("04_conditional_vae", "logvar-detached-in-the-kl"): ["none of them is cut from the graph"],
    ("04_conditional_vae", "kl-summed-over-batch"): ["the sum over the batch of 3 images"],
    ("04_conditional_vae", "kl-returned-weighted"): ["return the KL unweighted"],
    ("04_conditional_vae", "beta-on-reconstruction"): ["beta weighs the KL, not the reconstruction"],
    ("05_beta_vae", "warm-up-numpy-float"): ["got numpy.float64"],
    ("05_beta_vae", "warm-up-int-at-step-0"): ["got int"],
    ("05_beta_vae", "warm-up-validated-by-assert"): ["got AssertionError", "Hint: raise ValueError"],
    ("05_beta_vae", "class-information-kl-reversed"): ["the joint weighs the log-ratio"],
    ("05_beta_vae", "class-information-in-bits"): ["bits: the information is in nats"],
    ("05_beta_vae", "class-information-bins-of-range-over-n-minus-1"): ["two classes sharing a bin"],
    ("05_beta_vae", "class-information-values-rounded-to-a-bin"): ["two classes sharing a bin"],
    ("05_categorical_clustering", "kl-softmax-over-the-batch"): ["a softmax over the batch of 3"],
    ("05_categorical_clustering", "categorical-softmax-over-batch"): ["a softmax over the batch of 3"],
    ("05_categorical_clustering", "categorical-kl-missing-log-k"): ["lacks its term in log K"],
    ("05_categorical_clustering", "categorical-entropy-for-kl"): ["the entropy of a uniform q"],
    ("05_categorical_clustering", "capacity-balance-as-the-mean-kl"): ["not the mean of the images' own KLs"],
    ("05_categorical_clustering", "capacity-balance-detached"): ["nothing detached"],
    ("05_categorical_clustering", "categorical-kl-in-bits"): ["2 bits: the KL is in nats"],
    ("05_categorical_clustering", "categorical-kl-reversed"): ["KL(uniform || q), the other way round"],
    ("05_categorical_clustering", "capacity-balance-reversed"): ["KL(uniform || shares), the other way round"],
    ("05_categorical_clustering", "gumbel-one-noise-per-row"): ["a new u for every entry, not one per sample"],
    ("05_categorical_clustering", "gumbel-exponential-noise"): ["check the law of your noise"],
    ("05_categorical_clustering", "gumbel-noise-not-divided-by-tau"): ["tau divides logits + g together"],
    ("05_categorical_clustering", "gumbel-noise-added-to-probabilities"): ["add the noise to them"],
    ("10_colour_images", "dlogistic-mean-clamped-in-place"): ["changed its argument mean in place"],
    ("10_colour_images", "bpd-nll-divided-in-place"): ["changed its argument nll in place"],
    ("10_colour_images", "dlogistic-result-detached"): ["requires_grad=False"],
    ("10_colour_images", "dlogistic-bin-width-term-detached"): ["the gradient of log P in log_scale", ".detach()"],
    ("10_colour_images", "dlogistic-difference-of-sigmoids-where-finite"): ["right within a few scales of the mean"],
    ("10_colour_images", "dlogistic-bins-of-1-256"): ["0.996 times their probability"],
    ("10_colour_images", "dlogistic-density-times-width-everywhere"): ["density at the level times the bin's width"],
    ("01_elbo", "elbo-decoder-of-variance-1"): ["a decoder of variance 1"],
    ("03_conv_vae", "kl-detached"): ["the KL trains the encoder through q's loc and scale"],
    ("01_elbo", "reparameterize-without-noise"): ["no noise was drawn"],
    ("02_dense_vae", "train-epoch-steps-on-the-summed-loss"): ["times its number of images"],
    ("02_dense_vae", "train-epoch-zeroes-between-backward-and-step"): ["nothing between"],
    ("01_elbo", "reparameterize-changes-mu-in-place"): ["changed its argument mu in place"],
    ("05_beta_vae", "class-information-normalised"): ["divided by H(y)"],
    ("05_categorical_clustering", "gumbel-without-noise"): ["no noise was drawn"],
    ("05_categorical_clustering", "capacity-balance-over-ten-categories"): ["take K from the logits"],
    ("03_conv_vae", "kl-through-a-list"): ["the KL trains the encoder through q's loc and scale"],
    ("05_categorical_clustering", "categorical-kl-detached"): ["the KL trains the encoder through the logits"],
    ("02_dense_vae", "vae-loss-divided-by-a-fixed-batch-size"): ["divided by 128, a fixed number"],
    ("03_conv_vae", "encoder-features-reshaped-by-a-fixed-batch-size"): ["not a fixed number"],
    ("10_colour_images", "dlogistic-no-edge-bins"): ["the mass beyond them is missing"],
    ("10_colour_images", "dlogistic-edges-swapped"): ["have each other's tail"],
    ("10_colour_images", "dlogistic-mean-clamped"): ["outside [0, 1]", "values are wrong; at flat indices"],
    ("10_colour_images", "bpd-offset-once-per-image"): ["once per image, not once per dimension"],
    ("10_colour_images", "bpd-nll-read-as-log-density"): ["nll is -log p(y) already"],
    ("10_colour_images", "dlogistic-probability-not-its-log"): ["the probabilities themselves"],
    ("10_colour_images", "dlogistic-negative-log-probability"): ["-log P: return log P itself"],
    ("10_colour_images", "dlogistic-log-probability-in-bits"): ["log P in bits"],
    ("10_colour_images", "dlogistic-difference-of-log-cdfs"): ["Above the mean", "upper tails"],
    ("08_semi_supervised", "unlabelled-log-of-the-softmax"): ["sure of class 1", "log_softmax of model.classify(h)"],
    ("10_colour_images", "dlogistic-expm1-of-the-width-with-its-sign-flipped"): ["the bins are right",
                                                                                "e^d - 1 stands"],
    ("06_collapse_and_inference", "grid-evenly-spaced"): ["evenly spaced in z"],
    ("06_collapse_and_inference", "grid-edges-of-n-plus-1-intervals"): ["edges of 5 intervals"],
    ("06_collapse_and_inference", "grid-erfinv-without-its-sqrt-2"): ["quantiles of N(0, 1/2)"],
}
# 10's visible checks cover every input kind its hidden tests use: each of its mistakes fails Validate
# 06-09's device escapes, off-by-one steps and asserts for ValueErrors, caught visibly
CAUGHT_VISIBLY_IN_06_TO_09 = {"nearest-in-numpy", "free-bits-negative-checked-by-assert", "grid-of-no-points-checked-by-assert",
                    "refine-one-step-too-few", "refine-one-step-too-many", "refine-one-step-too-many-after-the-loop",
                    "free-bits-floor-as-a-legacy-tensor", "aggregate-log-n-as-a-legacy-tensor",
                    "free-bits-floor-expanded-on-the-cpu",
                    "aggregate-logsumexp-in-numpy", "unlabelled-classes-on-a-device-chosen-in-the-call",
                    "labelled-noise-from-a-legacy-constructor", "refine-copies-made-on-the-cpu"}
CAUGHT_VISIBLY = [(assignment, mistake) for assignment, mistake, *_ in MISTAKES
                  if (assignment, mistake) in NAMED_BY_THE_VISIBLE_CHECKS or assignment == "10_colour_images"
                  or mistake in CAUGHT_VISIBLY_IN_06_TO_09]

# Correct answers in another style than the instructor's: (assignment, [(solution cell, code, replacement)]).
ALTERNATIVES = [
    # review 17 A: forward reshapes what the decoder returns, which a real decoder's logits allow; a bias dropped in
    # one of the layers a batch norm follows, not both
    ("02_dense_vae", [
        ("dense_vae", "return self.decode(z), mu, logvar", "return self.decode(z).view(-1, 784), mu, logvar"),
    ]),
    # review 17 B: each argument checked alone, warmup_steps first, a message that starts with the argument's name
    ("05_beta_vae", [
        ("kl_weight", "    if step < 0 or warmup_steps < 0:\n        raise ValueError(f\"kl_weight: step and warmup_steps must "
                      "be >= 0, got step={step}, \"\n                         f\"warmup_steps={warmup_steps}.\")",
         "    if warmup_steps < 0:\n        raise ValueError(f\"kl_weight: warmup_steps must be >= 0, got {warmup_steps}.\")\n"
         "    if step < 0:\n        raise ValueError(f\"Step must be non-negative, got {step}.\")"),
    ]),
    # review 18 C: log_scale clamped at the notebook's floor, as PixelCNN++'s code does
    ("10_colour_images", [
        ("discretised_logistic_log_prob", "    half_bin = 0.5 / 255\n",
         "    log_scale = log_scale.clamp(min=-7.0)\n    half_bin = 0.5 / 255\n"),
    ]),
    ("04_conditional_vae", [
        ("conditional_vae", "return self.decode(z, y), mu, logvar", "return self.decode(z, y).view(len(x), 784), mu, logvar"),
    ]),
    ("03_conv_vae", [
        ("conv_vae_forward", "return self.decoder(z), q", "return self.decoder(z).view_as(x), q"),
        ("conv_encoder", "nn.Conv2d(1, c1, kernel_size=4, stride=2, padding=1)",
         "nn.Conv2d(1, c1, kernel_size=4, stride=2, padding=1, bias=False)"),
    ]),
    # review 8 (A): torch.normal with tensor arguments made where mu is, and a defensive as_tensor of the labels
    ("01_elbo", [
        ("reparameterize", "return mu + std * torch.randn_like(std)",
         "return mu + std * torch.normal(torch.zeros_like(mu), torch.ones_like(mu))"),
    ]),
    ("04_conditional_vae", [
        ("one_hot", "    if labels.is_floating_point()", "    labels = torch.as_tensor(labels)\n    if labels.is_floating_point()"),
    ]),
    # the noise from a legacy constructor of std itself, which makes it on std's device and in its dtype
    ("01_elbo", [
        ("reparameterize", "return mu + std * torch.randn_like(std)", "return mu + std * std.new(std.size()).normal_()"),
    ]),
    # standard normal draws made where std is, through torch.normal's keyword arguments
    ("01_elbo", [
        ("reparameterize", "return mu + std * torch.randn_like(std)",
         "return mu + std * torch.normal(mean=torch.zeros_like(std), std=torch.ones_like(std))"),
    ]),
    ("01_elbo", [
        ("kl_to_standard_normal", "return 0.5 * (logvar.exp() + mu.pow(2) - 1.0 - logvar).sum(dim=1)",
         "q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))\n"
         "    prior = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))\n"
         "    return torch.distributions.kl_divergence(q, prior).sum(-1)"),
        ("reparameterize", "return mu + std * torch.randn_like(std)",
         "return torch.distributions.Normal(mu, std).rsample()"),
        ("log_likelihoods", 'per_pixel = -F.binary_cross_entropy_with_logits(logits, x, reduction="none")',
         "per_pixel = x * F.logsigmoid(logits) + (1 - x) * F.logsigmoid(-logits)"),
        ("log_likelihoods", "per_entry = -0.5 * (math.log(2 * math.pi) + logvar + (x - mean) ** 2 / logvar.exp())",
         "per_entry = torch.distributions.Normal(torch.as_tensor(mean, dtype=x.dtype), "
         "torch.exp(0.5 * logvar)).log_prob(x)"),
        ("elbo", "reconstruction = torch.stack([", "reconstruction = gaussian_log_likelihood(\n"
         "        x.repeat(n_samples, 1),\n"
         "        model.decoder_mean(reparameterize(q_mu.repeat(n_samples, 1), q_logvar.repeat(n_samples, 1))),\n"
         "        model.logvar).view(n_samples, -1).mean(0)\n"
         "    unused = torch.stack(["),
        ("importance_weighted_bound", "log_weights = []\n    for _ in range(k):",
         "q = torch.distributions.Normal(q_mu, torch.exp(0.5 * q_logvar))\n"
         "    z = q.rsample((k,))\n"
         "    log_w = (torch.distributions.Normal(model.decoder_mean(z), math.exp(0.5 * model.logvar)).log_prob(x).sum(-1)\n"
         "             + torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(-1) - q.log_prob(z).sum(-1))\n"
         "    return torch.logsumexp(log_w, dim=0) - math.log(k)\n"
         "    log_weights = []\n    for _ in range(k):"),
    ]),
    ("02_dense_vae", [
        ("dense_vae", "z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)",
         "z = torch.distributions.Normal(mu, torch.exp(0.5 * logvar)).rsample()"),
        ("vae_loss", 'reconstruction = F.binary_cross_entropy_with_logits(logits, targets, reduction="none").flatten(1).sum(1).mean()',
         'reconstruction = F.binary_cross_entropy_with_logits(logits, targets, reduction="sum") / len(logits)'),
        ("vae_loss", "kl = 0.5 * (logvar.exp() + mu.pow(2) - 1.0 - logvar).sum(1).mean()",
         "kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / len(mu)"),
        ("train_epoch", "optimizer.zero_grad()", "optimizer.zero_grad(set_to_none=True)"),
        ("gaussian_nll", "scale = log_scale.exp().clamp(min=min_scale)\n"
         "    per_pixel = scale.log() + 0.5 * math.log(2 * math.pi) + (x.reshape(mean.shape) - mean) ** 2 / (2 * scale ** 2)\n"
         "    return per_pixel.sum(1)",
         "scale = torch.clamp(torch.exp(log_scale), min=min_scale)\n"
         "    return -torch.distributions.Normal(mean, scale).log_prob(x.view(len(x), -1)).sum(-1)"),
    ]),
    ("03_conv_vae", [
        ("conv_encoder", "return Normal(mu, torch.exp(0.5 * logvar))", "return Normal(mu, (logvar / 2).exp())"),
        ("conv_decoder", ".view(-1, self.c2, 7, 7)", ".view(len(z), self.c2, 7, 7)"),
        ("conv_vae_forward", "z = q.rsample()", "z = q.loc + q.scale * torch.randn_like(q.loc)"),
        ("kl_to_prior", "return kl_divergence(q, prior).sum(dim=-1)",
         "return (0.5 * (q.scale ** 2 + q.loc ** 2 - 1) - torch.log(q.scale)).sum(-1)"),
    ]),
    # the std as the root of the variance; the reshape as a layer; the draw by hand from q's mean and std; the KL of
    # the two Normals seen as distributions over the whole code (Independent), which sums over the dimensions itself
    ("03_conv_vae", [
        ("conv_encoder", "return Normal(mu, torch.exp(0.5 * logvar))", "return Normal(mu, logvar.exp().sqrt())"),
        ("conv_decoder", "nn.Linear(hidden, c2 * 7 * 7), nn.ReLU())",
         "nn.Linear(hidden, c2 * 7 * 7), nn.ReLU(), nn.Unflatten(1, (c2, 7, 7)))"),
        ("conv_decoder", "self.upsample(self.expand(z).view(-1, self.c2, 7, 7))", "self.upsample(self.expand(z))"),
        ("conv_vae_forward", "z = q.rsample()", "z = q.mean + q.stddev * torch.randn_like(q.stddev)"),
        ("kl_to_prior", "return kl_divergence(q, prior).sum(dim=-1)",
         "return kl_divergence(torch.distributions.Independent(q, 1), torch.distributions.Independent(prior, 1))"),
    ]),
    # the heads defined in the other order: the fixed parameters of the architecture check depend on no layer's order
    ("03_conv_vae", [
        ("conv_encoder", "self.to_mu = nn.Linear(c2 * 7 * 7, latent_dim)\n        self.to_logvar = nn.Linear(c2 * 7 * 7, latent_dim)",
         "self.to_logvar = nn.Linear(c2 * 7 * 7, latent_dim)\n        self.to_mu = nn.Linear(c2 * 7 * 7, latent_dim)"),
    ]),
    # one head of 2 x 20 outputs split into mu and logvar: the same parameters as two heads (review 15 A)
    ("03_conv_vae", [
        ("conv_encoder", "self.to_mu = nn.Linear(c2 * 7 * 7, latent_dim)\n        self.to_logvar = nn.Linear(c2 * 7 * 7, latent_dim)",
         "self.heads = nn.Linear(c2 * 7 * 7, 2 * latent_dim)"),
        ("conv_encoder", "return self.to_mu(h), self.to_logvar(h)", "return self.heads(h).chunk(2, dim=1)"),
    ]),
    # no bias in the convolutions followed by BatchNorm (bias=False): BatchNorm's shift stands in for it
    ("03_conv_vae", [
        ("conv_encoder", "nn.Conv2d(1, c1, kernel_size=4, stride=2, padding=1), nn.BatchNorm2d(c1)",
         "nn.Conv2d(1, c1, kernel_size=4, stride=2, padding=1, bias=False), nn.BatchNorm2d(c1)"),
        ("conv_encoder", "nn.Conv2d(c1, c2, kernel_size=4, stride=2, padding=1), nn.BatchNorm2d(c2)",
         "nn.Conv2d(c1, c2, kernel_size=4, stride=2, padding=1, bias=False), nn.BatchNorm2d(c2)"),
        ("conv_decoder", "nn.ConvTranspose2d(c2, c1, kernel_size=4, stride=2, padding=1), nn.BatchNorm2d(c1)",
         "nn.ConvTranspose2d(c2, c1, kernel_size=4, stride=2, padding=1, bias=False), nn.BatchNorm2d(c1)"),
    ]),
    ("04_conditional_vae", [
        ("one_hot", "return F.one_hot(labels.long(), n_classes).float()",
         "return torch.eye(n_classes, device=labels.device)[labels.long()]"),
        ("conditional_vae", "z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)",
         "z = torch.distributions.Normal(mu, torch.exp(0.5 * logvar)).rsample()"),
        ("cvae_loss", 'reconstruction = F.binary_cross_entropy_with_logits(logits, x.reshape(logits.shape), reduction="none")\n'
         "    reconstruction = reconstruction.sum(1).mean()",
         'reconstruction = F.binary_cross_entropy_with_logits(logits, x.view(len(x), -1), reduction="sum") / len(x)'),
    ]),
    # torch.distributions.Bernoulli, told not to insist on 0/1 pixels (the checks pass grey levels too)
    ("01_elbo", [
        ("log_likelihoods", 'per_pixel = -F.binary_cross_entropy_with_logits(logits, x, reduction="none")',
         "per_pixel = torch.distributions.Bernoulli(logits=logits, validate_args=False).log_prob(x)"),
    ]),
    # the KL in its other common form; the noise made by hand; the ELBO estimated wholly by sampling, as the
    # average of log p(x, z) - log q(z | x); the log of the mean weight computed with the largest weight factored out
    ("01_elbo", [
        ("kl_to_standard_normal", "return 0.5 * (logvar.exp() + mu.pow(2) - 1.0 - logvar).sum(dim=1)",
         "return -0.5 * torch.sum(1 + logvar - mu ** 2 - torch.exp(logvar), dim=-1)"),
        ("reparameterize", "std = torch.exp(0.5 * logvar)\n    return mu + std * torch.randn_like(std)",
         "eps = torch.randn(mu.shape, dtype=mu.dtype, device=mu.device)\n    return mu + eps * (0.5 * logvar).exp()"),
        ("elbo", "return reconstruction - kl_to_standard_normal(q_mu, q_logvar)",
         "estimates = []\n"
         "    for _ in range(n_samples):\n"
         "        z = reparameterize(q_mu, q_logvar)\n"
         "        estimates.append(gaussian_log_likelihood(x, model.decoder_mean(z), model.logvar)\n"
         "                         + gaussian_log_likelihood(z, 0.0, 0.0) - gaussian_log_likelihood(z, q_mu, q_logvar))\n"
         "    return torch.stack(estimates).mean(dim=0)"),
        ("importance_weighted_bound", "return torch.logsumexp(torch.stack(log_weights), dim=0) - math.log(k)",
         "log_w = torch.stack(log_weights)\n"
         "    top = log_w.max(dim=0).values\n"
         "    return top + torch.log(torch.exp(log_w - top).mean(dim=0))"),
    ]),
    ("02_dense_vae", [
        ("vae_loss", 'reconstruction = F.binary_cross_entropy_with_logits(logits, targets, reduction="none").flatten(1).sum(1).mean()',
         "reconstruction = -torch.distributions.Bernoulli(logits=logits, validate_args=False).log_prob(targets)"
         ".sum(1).mean()"),
    ]),
    # the reconstruction as PyTorch's own VAE example writes it: the images viewed as rows of 784 pixels
    ("02_dense_vae", [
        ("vae_loss", 'targets = x.reshape(logits.shape)\n'
         '    reconstruction = F.binary_cross_entropy_with_logits(logits, targets, reduction="none").flatten(1).sum(1).mean()',
         'reconstruction = F.binary_cross_entropy_with_logits(logits, x.view(-1, 784), reduction="sum") / x.size(0)'),
    ]),
    # mu and logvar from one layer of 40 outputs (the same parameters), and the noise made by hand
    ("02_dense_vae", [
        ("dense_vae", "self.to_mu = nn.Linear(hidden_dim, latent_dim)\n        self.to_logvar = nn.Linear(hidden_dim, latent_dim)",
         "self.heads = nn.Linear(hidden_dim, 2 * latent_dim)"),
        ("dense_vae", "return self.to_mu(h), self.to_logvar(h)",
         "mu, logvar = self.heads(h).chunk(2, dim=1)\n        return mu, logvar"),
        ("dense_vae", "z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)",
         "z = mu + torch.randn(mu.shape, dtype=mu.dtype, device=mu.device) * logvar.div(2).exp()"),
    ]),
    # the epoch's losses kept as tensors and added up once; the Gaussian term from torch's own negative log-likelihood
    ("02_dense_vae", [
        ("train_epoch", "total, count = 0.0, 0\n"
         "    for x, _ in batches:\n"
         "        logits, mu, logvar = model(x)\n"
         "        loss, _, _ = vae_loss(logits, x, mu, logvar, beta)\n"
         "        optimizer.zero_grad()\n"
         "        loss.backward()\n"
         "        optimizer.step()\n"
         "        total += loss.item() * len(x)\n"
         "        count += len(x)\n"
         "    return total / count",
         "weighted, sizes = [], []\n"
         "    for batch in batches:\n"
         "        x = batch[0]\n"
         "        optimizer.zero_grad()\n"
         "        logits, mu, logvar = model(x)\n"
         "        loss = vae_loss(logits, x, mu, logvar, beta=beta)[0]\n"
         "        loss.backward()\n"
         "        optimizer.step()\n"
         "        weighted.append(loss.detach() * len(x))\n"
         "        sizes.append(len(x))\n"
         "    return (torch.stack(weighted).sum() / sum(sizes)).item()"),
        ("gaussian_nll", "scale = log_scale.exp().clamp(min=min_scale)\n"
         "    per_pixel = scale.log() + 0.5 * math.log(2 * math.pi) + (x.reshape(mean.shape) - mean) ** 2 / (2 * scale ** 2)\n"
         "    return per_pixel.sum(1)",
         "scale = torch.clamp(log_scale.exp(), min=min_scale).expand_as(mean)\n"
         "    return F.gaussian_nll_loss(mean, x.reshape(mean.shape), scale ** 2, full=True, eps=0.0, reduction=\"none\").sum(1)"),
    ]),
    ("05_beta_vae", [
        ("kl_weight", "return float(beta) * min(1.0, step / warmup_steps)",
         "return beta * step / warmup_steps if step < warmup_steps else float(beta)"),
        # one dimension at a time, with torch.bucketize and torch.special.xlogy
        ("class_information", "low, high = z.min(dim=0).values, z.max(dim=0).values\n    width",
         "n_classes = int(labels.max()) + 1\n"
         "    values = []\n"
         "    for column in z.T:\n"
         "        edges = torch.linspace(float(column.min()), float(column.max()), n_bins + 1)\n"
         "        b = torch.bucketize(column, edges[1:-1], right=True)\n"
         "        joint = torch.bincount(b * n_classes + labels, minlength=n_bins * n_classes).view(n_bins, -1).double() / len(z)\n"
         "        outer = joint.sum(1, keepdim=True) * joint.sum(0, keepdim=True)\n"
         "        values.append(torch.special.xlogy(joint, joint).sum() - torch.special.xlogy(joint, outer).sum())\n"
         "    return torch.stack(values).to(z.dtype)\n"
         "    low, high = z.min(dim=0).values, z.max(dim=0).values\n    width"),
    ]),
    ("05_categorical_clustering", [
        ("categorical_kl_to_uniform", "log_probs = F.log_softmax(logits, dim=-1)\n"
         "    return (log_probs.exp() * log_probs).sum(-1) + math.log(logits.shape[-1])",
         "q = torch.distributions.Categorical(logits=logits)\n    return math.log(logits.shape[-1]) - q.entropy()"),
        ("capacity_penalty", "kl = categorical_kl_to_uniform(category_logits)\n"
         "    log_shares = torch.logsumexp(F.log_softmax(category_logits, dim=-1), dim=0) - math.log(len(category_logits))\n"
         "    balance = categorical_kl_to_uniform(log_shares.unsqueeze(0)).squeeze(0)\n"
         "    return gamma * (kl.mean() - capacity).abs() + gamma * balance",
         "q = torch.distributions.Categorical(logits=category_logits)\n"
         "    log_k = math.log(category_logits.shape[-1])\n"
         "    shares = q.probs.mean(0)\n"
         "    balance = torch.special.xlogy(shares, shares).sum() + log_k\n"
         "    return gamma * torch.abs((log_k - q.entropy()).mean() - capacity) + gamma * balance"),
        ("gumbel_softmax_sample", "u = torch.rand_like(logits).clamp(min=torch.finfo(logits.dtype).tiny)\n"
         "    gumbel = -torch.log(-torch.log(u))\n",
         "gumbel = -torch.empty_like(logits).exponential_().log()\n"),
    ]),
    # the ramp computed in float32 by torch, then made a Python float: right to float32's precision
    ("05_beta_vae", [
        ("kl_weight", "return float(beta) * min(1.0, step / warmup_steps)",
         "return float(beta) * torch.tensor(step / warmup_steps).clamp(max=1.0).item()"),
    ]),
    # no special case for a warm-up of 0 steps: from step warmup_steps on (every step, then) the weight is beta
    ("05_beta_vae", [
        ("kl_weight", "    if warmup_steps == 0:\n        return float(beta)\n"
         "    return float(beta) * min(1.0, step / warmup_steps)",
         "    if step >= warmup_steps:\n        return float(beta)\n    return beta * step / warmup_steps"),
    ]),
    # both KLs by torch.distributions.kl_divergence, the shares' log-probabilities as a Categorical's logits
    ("05_categorical_clustering", [
        ("capacity_penalty", "kl = categorical_kl_to_uniform(category_logits)\n"
         "    log_shares = torch.logsumexp(F.log_softmax(category_logits, dim=-1), dim=0) - math.log(len(category_logits))\n"
         "    balance = categorical_kl_to_uniform(log_shares.unsqueeze(0)).squeeze(0)\n"
         "    return gamma * (kl.mean() - capacity).abs() + gamma * balance",
         "D = torch.distributions\n"
         "    q = D.Categorical(logits=category_logits)\n"
         "    kl = D.kl_divergence(q, D.Categorical(logits=torch.zeros_like(category_logits)))\n"
         "    shares = D.Categorical(logits=torch.logsumexp(q.logits, dim=0))\n"
         "    balance = D.kl_divergence(shares, D.Categorical(logits=torch.zeros_like(shares.logits)))\n"
         "    return gamma * torch.abs(kl.mean() - capacity) + gamma * balance"),
    ]),
    # the one-hot vectors by comparing each label with every class; the label enters the encoder's first layer
    # through a layer of its own, added (as many weights as a layer that takes [x, y]); the KL by torch.distributions
    ("04_conditional_vae", [
        ("one_hot", "return F.one_hot(labels.long(), n_classes).float()",
         "return (labels.long().unsqueeze(1) == torch.arange(n_classes, device=labels.device)).float()"),
        ("conditional_vae", "self.hidden = nn.Sequential(nn.Linear(image_size + n_classes, hidden_dim), nn.ReLU())",
         "self.from_x = nn.Linear(image_size, hidden_dim)\n"
         "        self.from_y = nn.Linear(n_classes, hidden_dim, bias=False)"),
        ("conditional_vae", "h = self.hidden(torch.cat([x.flatten(1), y], dim=1))",
         "h = torch.relu(self.from_x(x.flatten(1)) + self.from_y(y))"),
        ("cvae_loss", "kl = 0.5 * (logvar.exp() + mu.pow(2) - 1.0 - logvar).sum(1).mean()",
         "q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))\n"
         "    prior = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))\n"
         "    kl = torch.distributions.kl_divergence(q, prior).sum(1).mean()"),
    ]),
    # correct on a GPU, reading the labels' values: the rows of an identity on the labels' device, picked by a list
    ("04_conditional_vae", [
        ("one_hot", "return F.one_hot(labels.long(), n_classes).float()",
         "return torch.eye(n_classes, device=labels.device)[labels.tolist()]"),
    ]),
    # scikit-learn's mutual_info_score of the labels and each dimension's bins
    ("05_beta_vae", [
        ("class_information", "    n_classes = int(labels.max()) + 1\n",
         "    from sklearn.metrics import mutual_info_score\n"
         "    return torch.tensor([mutual_info_score(labels.cpu().numpy(), column.cpu().numpy()) for column in bins.T],\n"
         "                        dtype=z.dtype)\n"
         "    n_classes = int(labels.max()) + 1\n"),
    ]),
    # the KL by torch.distributions, between two Categoricals
    ("05_categorical_clustering", [
        ("categorical_kl_to_uniform", "log_probs = F.log_softmax(logits, dim=-1)\n"
         "    return (log_probs.exp() * log_probs).sum(-1) + math.log(logits.shape[-1])",
         "D = torch.distributions\n"
         "    return D.kl_divergence(D.Categorical(logits=logits), D.Categorical(logits=torch.zeros_like(logits)))"),
    ]),
    # PyTorch's own Gumbel-softmax: the notebook asks for one from the formula, but the result is the same
    ("05_categorical_clustering", [
        ("gumbel_softmax_sample", "return F.softmax((logits + gumbel) / tau, dim=-1)",
         "return F.gumbel_softmax(logits, tau=tau)"),
    ]),
    # the Gumbel noise from torch.distributions, with its argument validation
    ("05_categorical_clustering", [
        ("gumbel_softmax_sample", "u = torch.rand_like(logits).clamp(min=torch.finfo(logits.dtype).tiny)\n"
         "    gumbel = -torch.log(-torch.log(u))\n",
         "gumbel = torch.distributions.Gumbel(torch.zeros_like(logits), torch.ones_like(logits)).sample()\n"),
    ]),
    ("06_collapse_and_inference", [
        ("free_bits_kl", "return kl.mean(dim=0).clamp(min=free_bits).sum()",
         "return torch.maximum(kl.mean(0), torch.tensor(float(free_bits))).sum()"),
        ("refine_posterior", "loss = -elbo_per_image(decoder, x, mu, logvar, n_samples).sum()",
         "loss = -elbo_per_image(decoder, x, mu, logvar, n_samples).mean()"),
        ("log_aggregate_posterior", "q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))\n"
         "    return torch.cat([torch.logsumexp(q.log_prob(part.unsqueeze(1)).sum(-1), dim=1) - math.log(len(mu))\n"
         "                      for part in z.split(chunk)])",
         "mixture = torch.distributions.MixtureSameFamily(\n"
         "        torch.distributions.Categorical(logits=torch.zeros(len(mu), device=mu.device)),\n"
         "        torch.distributions.Independent(torch.distributions.Normal(mu, (0.5 * logvar).exp()), 1))\n"
         "    return torch.cat([mixture.log_prob(part) for part in z.split(chunk)])"),
        ("prior_quantile_grid", "z1 = v.expand(n, n)                       # along each row, left to right\n"
         "    z2 = v.flip(0).unsqueeze(1).expand(n, n)  # down the rows, the largest first\n"
         "    return torch.stack([z1, z2], dim=-1)",
         "rows, columns = torch.meshgrid(v.flip(0), v, indexing=\"ij\")\n"
         "    return torch.stack([columns, rows], dim=-1)"),
    ]),
    # the decoder used as the nn.Module it is lent as (and the notebook passes): frozen, its gradients cleared
    ("06_collapse_and_inference", [
        ("free_bits_kl", "return kl.mean(dim=0).clamp(min=free_bits).sum()",
         "return torch.relu(kl.mean(0) - free_bits).sum() + free_bits * kl.shape[1]"),
        ("refine_posterior", "optimizer = torch.optim.Adam([mu, logvar], lr=lr)\n"
         "    for _ in range(steps):\n",
         "decoder.requires_grad_(False)\n"
         "    optimizer = torch.optim.Adam([mu, logvar], lr=lr)\n"
         "    for _ in range(steps):\n"
         "        decoder.zero_grad()\n"),
        ("log_aggregate_posterior", "q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))\n"
         "    return torch.cat([torch.logsumexp(q.log_prob(part.unsqueeze(1)).sum(-1), dim=1) - math.log(len(mu))\n"
         "                      for part in z.split(chunk)])",
         "std, rows = torch.exp(0.5 * logvar), []\n"
         "    for start in range(0, len(z), chunk):  # the density written out, chunk codes at a time\n"
         "        part = z[start:start + chunk].unsqueeze(1)\n"
         "        log_density = (-0.5 * ((part - mu) / std) ** 2 - std.log() - 0.5 * math.log(2 * math.pi)).sum(-1)\n"
         "        rows.append(torch.logsumexp(log_density, dim=1) - math.log(len(mu)))\n"
         "    return torch.cat(rows)"),
        ("prior_quantile_grid", "v = torch.distributions.Normal(0.0, 1.0).icdf(u)", "v = torch.special.ndtri(u)"),
    ]),
    # the aggregate posterior filled chunk by chunk into a tensor made on z's device
    ("06_collapse_and_inference", [
        ("log_aggregate_posterior", "q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))\n"
         "    return torch.cat([torch.logsumexp(q.log_prob(part.unsqueeze(1)).sum(-1), dim=1) - math.log(len(mu))\n"
         "                      for part in z.split(chunk)])",
         "q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))\n"
         "    out = z.new_empty(len(z))\n"
         "    for start in range(0, len(z), chunk):\n"
         "        part = z[start:start + chunk]\n"
         "        out[start:start + chunk] = torch.logsumexp(q.log_prob(part.unsqueeze(1)).sum(-1), dim=1) - math.log(len(mu))\n"
         "    return out"),
    ]),
    ("07_richer_posteriors_and_priors", [
        ("best_diagonal_q", "return mean, 1 / precision.diagonal()",
         "m = mean.clone()\n"
         "    v = torch.diagonal(precision).reciprocal()\n"
         "    return m, v"),
        ("planar_flow", "a = (z * w).sum(-1) + b\n"
         "    h = torch.tanh(a)\n"
         "    log_det = torch.log((1 + (1 - h ** 2) * (w * u).sum(-1)).abs())\n"
         "    return z + u * h.unsqueeze(-1), log_det",
         "a = torch.einsum(\"...d,...d->...\", z, w.expand_as(z)) + b\n"
         "    log_det = torch.log(torch.abs(1 + (w * u).sum(-1) / torch.cosh(a) ** 2))\n"
         "    return z + u * torch.tanh(a)[..., None], log_det"),
    ]),
    ("08_semi_supervised", [
        ("labelled_bound", "z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)\n"
         "    mean, h_logvar = model.decode(z, one_hot)\n"
         "    log_likelihood = -0.5 * (math.log(2 * math.pi) + h_logvar + (h - mean) ** 2 / h_logvar.exp()).sum(1)\n"
         "    kl = 0.5 * (logvar.exp() + mu.pow(2) - 1.0 - logvar).sum(1)",
         "q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))\n"
         "    mean, h_logvar = model.decode(q.rsample(), one_hot)\n"
         "    log_likelihood = torch.distributions.Normal(mean, torch.exp(0.5 * h_logvar)).log_prob(h).sum(1)\n"
         "    prior = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))\n"
         "    kl = torch.distributions.kl_divergence(q, prior).sum(1)"),
        ("labelled_bound", "one_hot = F.one_hot(y, model.n_classes).to(h.dtype)",
         "one_hot = torch.eye(model.n_classes, dtype=h.dtype, device=h.device)[y]"),
        ("unlabelled_bound", "classes = torch.arange(k, device=h.device).repeat(len(h))\n"
         "    table = labelled_bound(model, h.repeat_interleave(k, dim=0), classes).view(len(h), k)\n"
         "    log_q = F.log_softmax(model.classify(h), dim=1)\n"
         "    return (log_q.exp() * (table - log_q)).sum(1)",
         "table = torch.stack([labelled_bound(model, h, torch.full((len(h),), c, dtype=torch.long, device=h.device))\n"
         "                         for c in range(k)], dim=1)\n"
         "    q = torch.softmax(model.classify(h), dim=-1)\n"
         "    return (q * table).sum(-1) + torch.distributions.Categorical(probs=q).entropy()"),
    ]),
    ("08_semi_supervised", [  # the model's networks called by name, as the notebook's M2 defines them
        ("labelled_bound", "mu, logvar = model.encode(h, one_hot)",
         "mu, logvar = model.encoder(torch.cat([h, one_hot], dim=1)).chunk(2, dim=1)"),
        ("labelled_bound", "mean, h_logvar = model.decode(z, one_hot)",
         "mean, h_logvar = model.decoder(torch.cat([z, one_hot], dim=1)).chunk(2, dim=1)"),
        ("unlabelled_bound", "log_q = F.log_softmax(model.classify(h), dim=1)",
         "log_q = F.log_softmax(model.classifier(h), dim=1)"),
    ]),
    ("08_semi_supervised", [  # the number of classes read from the networks' layers, as the notebook's M2 has them
        ("labelled_bound", "one_hot = F.one_hot(y, model.n_classes)",
         "one_hot = F.one_hot(y, model.encoder[0].in_features - h.shape[1])"),
        ("unlabelled_bound", "k = model.n_classes", "k = model.classifier[-1].out_features"),
    ]),
    # correct on a GPU, reading the classes' values: a one-hot filled from y.tolist(), with log(2 pi) as a 0-dim
    # tensor made on the CPU (a CPU scalar mixes with a GPU's tensors); and one made on the CPU and moved to h
    ("08_semi_supervised", [
        ("labelled_bound", "one_hot = F.one_hot(y, model.n_classes).to(h.dtype)",
         "one_hot = torch.zeros(len(y), model.n_classes, dtype=h.dtype, device=h.device)\n"
         "    for i, c in enumerate(y.tolist()):\n        one_hot[i, c] = 1.0"),
        ("labelled_bound", "-0.5 * (math.log(2 * math.pi) + h_logvar",
         "-0.5 * (torch.tensor(2 * math.pi).log() + h_logvar"),
    ]),
    ("08_semi_supervised", [
        ("labelled_bound", "one_hot = F.one_hot(y, model.n_classes).to(h.dtype)",
         "one_hot = F.one_hot(y.cpu(), model.n_classes).to(h)"),
    ]),
    # correct on a GPU: noise and one-hot vectors made from the given tensors through torch.normal, a Normal of
    # tensors and torch.as_tensor (functions that make tensors, given tensors: no device of their own)
    ("08_semi_supervised", [
        ("labelled_bound", "z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)",
         "z = mu + torch.exp(0.5 * logvar) * torch.normal(torch.zeros_like(mu), torch.ones_like(mu))"),
        ("labelled_bound", "one_hot = F.one_hot(y, model.n_classes).to(h.dtype)",
         "one_hot = torch.as_tensor(F.one_hot(y, model.n_classes), dtype=h.dtype)"),
    ]),
    ("08_semi_supervised", [
        ("labelled_bound", "z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)",
         "z = mu + torch.exp(0.5 * logvar) * torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu)).sample()"),
    ]),
    ("08_semi_supervised", [
        ("labelled_bound", "z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)",
         "z = mu + torch.exp(0.5 * logvar) * torch.normal(mean=torch.zeros_like(mu), std=torch.ones_like(mu))"),
    ]),
    ("09_vq_vae", [
        ("causal_mask", "mask = torch.ones(size, size)\n    centre = size // 2\n"
         "    mask[centre, centre + (0 if first else 1):] = 0  # the centre row from the position itself (first) or after it\n"
         "    mask[centre + 1:] = 0  # the rows below\n    return mask",
         "m = torch.zeros(size, size, dtype=torch.float64)\n    c = size // 2\n    m[:c] = 1\n    m[c, :c] = 1\n"
         "    if not first:\n        m[c, c] = 1\n    return m"),
        ("nearest_codes", "distances = (z_e ** 2).sum(-1, keepdim=True) - 2 * z_e @ codebook.T + (codebook ** 2).sum(-1)\n"
         "    return distances.argmin(-1)",
         "flat = z_e.reshape(-1, z_e.shape[-1])\n"
         "    return torch.cdist(flat, codebook).argmin(dim=1).reshape(z_e.shape[:-1])"),
        ("quantise", "e = codebook[codes]\n"
         "    images = len(z_e)\n"
         "    codebook_loss = ((z_e.detach() - e) ** 2).sum() / images\n"
         "    commitment_loss = ((z_e - e.detach()) ** 2).sum() / images\n"
         "    return z_e + (e - z_e).detach(), codebook_loss, commitment_loss",
         "e = F.embedding(codes, codebook)\n"
         "    codebook_loss = F.mse_loss(e, z_e.detach(), reduction=\"sum\") / z_e.shape[0]\n"
         "    commitment_loss = F.mse_loss(z_e, e.detach(), reduction=\"sum\") / z_e.shape[0]\n"
         "    z_q = (e - z_e).detach() + z_e\n"
         "    return z_q, codebook_loss, commitment_loss"),
    ]),
    # the distances with einsum, without the norms of z_e (the same for every code); the mask from the reading order
    ("09_vq_vae", [
        ("causal_mask", "mask = torch.ones(size, size)\n    centre = size // 2\n"
         "    mask[centre, centre + (0 if first else 1):] = 0  # the centre row from the position itself (first) or after it\n"
         "    mask[centre + 1:] = 0  # the rows below\n    return mask",
         "order = torch.arange(size * size).view(size, size)  # each tap's place in reading order\n"
         "    return order < size * size // 2 + (0 if first else 1)"),
        ("nearest_codes", "distances = (z_e ** 2).sum(-1, keepdim=True) - 2 * z_e @ codebook.T + (codebook ** 2).sum(-1)",
         "distances = codebook.pow(2).sum(1) - 2 * torch.einsum(\"...d,kd->...k\", z_e, codebook)"),
        ("quantise", "return z_e + (e - z_e).detach(), codebook_loss, commitment_loss",
         "return z_e - z_e.detach() + e.detach(), codebook_loss, commitment_loss"),
    ]),
    ("07_richer_posteriors_and_priors", [
        ("best_diagonal_q", "return mean, 1 / precision.diagonal()",
         "return mean.clone(), torch.linalg.inv(torch.diag(torch.diag(precision))).diagonal()"),
        ("planar_flow", "log_det = torch.log((1 + (1 - h ** 2) * (w * u).sum(-1)).abs())",
         "psi = (1 - torch.tanh(a).square()).unsqueeze(-1) * w  # the gradient of tanh(w.z + b) in z\n"
         "    log_det = (1 + (psi * u).sum(-1)).abs().log()"),
    ]),
    ("07_richer_posteriors_and_priors", [
        ("best_diagonal_q", "return mean, 1 / precision.diagonal()",
         "return mean.float(), precision.diagonal().reciprocal().float()  # float32, close enough for float64 inputs"),
        ("planar_flow", "log_det = torch.log((1 + (1 - h ** 2) * (w * u).sum(-1)).abs())",
         "log_det = torch.log((1 + (1 - h ** 2) * (w * u).sum(-1)).abs() + 1e-8)  # an epsilon, correct to float "
         "precision"),
    ]),
    # the discretised logistic with softplus and log1p; bits per dimension as nats per dimension, then in bits
    ("10_colour_images", [
        ("discretised_logistic_log_prob",
         "inside = F.logsigmoid(upper) + F.logsigmoid(-lower) + torch.log(-torch.expm1(lower - upper))",
         "inside = F.logsigmoid(upper) - F.softplus(lower) + torch.log1p(-torch.exp(lower - upper))"),
        ("bits_per_dim", "return nll / (dimensions * math.log(2)) + math.log2(scale)",
         "return (nll / dimensions + math.log(scale)) / math.log(2)"),
    ]),
    # the bin's mass as a difference of the two sigmoids on the side of the mean where both are small, in logs; log
    # sigma written through softplus at the edges; the dimensions counted by a torch.Size made of the shape
    ("10_colour_images", [
        ("discretised_logistic_log_prob",
         "inside = F.logsigmoid(upper) + F.logsigmoid(-lower) + torch.log(-torch.expm1(lower - upper))",
         "high = torch.where(x > mean, -lower, upper)\n"
         "    low = torch.where(x > mean, -upper, lower)\n"
         "    inside = F.logsigmoid(high) + torch.log(-torch.expm1(F.logsigmoid(low) - F.logsigmoid(high)))"),
        ("discretised_logistic_log_prob", "first, last = F.logsigmoid(upper), F.logsigmoid(-lower)",
         "first, last = upper - F.softplus(upper), -F.softplus(lower)"),
        ("bits_per_dim", "dimensions = math.prod(image_shape)",  # a 0-dim CPU tensor, which mixes as on a GPU
         "dimensions = torch.tensor(image_shape).prod()"),
        ("bits_per_dim", "return nll / (dimensions * math.log(2)) + math.log2(scale)",
         "count = torch.Size(image_shape).numel()\n"
         "    return (nll + count * math.log(scale)) / (count * math.log(2))"),
    ]),
    # the whole computation in float64, cast back; the dimensions by NumPy, the offset a 0-dim tensor made of a float
    ("10_colour_images", [
        ("discretised_logistic_log_prob", "half_bin = 0.5 / 255",
         "x, mean, log_scale, dtype = x.double(), mean.double(), log_scale.double(), x.dtype\n    half_bin = 0.5 / 255"),
        ("discretised_logistic_log_prob",
         "return torch.where(x < half_bin, first, torch.where(x > 1 - half_bin, last, inside))",
         "return torch.where(x < half_bin, first, torch.where(x > 1 - half_bin, last, inside)).to(dtype)"),
        ("bits_per_dim", "dimensions = math.prod(image_shape)",
         "import numpy as np\n    dimensions = int(np.prod(image_shape))"),
        ("bits_per_dim", "return nll / (dimensions * math.log(2)) + math.log2(scale)",
         "return nll / (dimensions * math.log(2)) + torch.log2(torch.tensor(float(scale)))"),
    ]),
    # the edge levels found by equality and written into a copy of the inside values; log-sigmoids through softplus
    ("10_colour_images", [
        ("discretised_logistic_log_prob",
         "return torch.where(x < half_bin, first, torch.where(x > 1 - half_bin, last, inside))",
         "log_probability = inside.clone()\n"
         "    log_probability[x == 0] = -F.softplus(-upper)[x == 0]\n"
         "    log_probability[x == 1] = -F.softplus(lower)[x == 1]\n"
         "    return log_probability"),
    ]),
]
