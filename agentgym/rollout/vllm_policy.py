"""vLLM as the rollout engine: token ids in, token ids + per-token logprobs (+ routed experts) out.

Both policies reuse `EnginePolicy`'s conversation bookkeeping (chat rendering with the trainer's tokenizer, the
multi-turn token continuation, batching of concurrent `act` calls) and replace only the generate call, so a `Turn`
from vLLM has exactly the layout the trainer replays: `prompt_ids` / `completion_ids` / `logprobs` per turn, and
`routed_experts` as rows [token][moe layer][k] for every token fed (prompt + completion − 1), when vLLM returns them.

- `VLLMServerPolicy`: the OpenAI-compatible completions endpoint of `vllm serve` (`prompt` as token ids,
  `logprobs`, `return_tokens_as_token_ids`, and vLLM's extras `return_token_ids`, `stop_token_ids`, `ignore_eos`,
  `top_k`, `seed`, optionally `return_routed_experts`).
- `VLLMOfflinePolicy`: an in-process `vllm.LLM` (GPU only), imported on first use.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from agentgym.api import Turn
from agentgym.errors import DependencyNotInstalled
from agentgym.rollout.engine_policy import EnginePolicy, EnginePolicyConfig

VLLM_INSTALL_HINT = "pip install 'agentgym-rl[vllm]' (GPU only: vLLM needs a CUDA GPU and replaces torch with its build)"


@dataclass(slots=True)
class RemoteCompletion:
    """One sampled continuation as a remote engine reports it."""

    token_ids: list[int]
    logprobs: list[float]
    routed_experts: list | None = None
    finish_reason: str | None = None
    sampling_mask: None = None  # vLLM does not report the top-p/top-k support


class _TokenizerOnly:
    """What `EnginePolicy` needs of an engine when generation happens elsewhere: the tokenizer."""

    def __init__(self, tokenizer: Any, max_len: int) -> None:
        self.tokenizer = tokenizer
        self.max_len = max_len


class _RemotePolicy(EnginePolicy):
    """`EnginePolicy` whose `_generate` is a remote call returning `RemoteCompletion`s."""

    def __init__(self, tokenizer: Any, config: EnginePolicyConfig | None = None, *, policy_version: int = 0,
                 max_model_len: int = 1 << 30) -> None:
        super().__init__(_TokenizerOnly(tokenizer, max_model_len), config, policy_version=policy_version)

    def _next_seed(self) -> int:
        seed = self._seed * 1_000_003 + self.num_generate_calls
        self.num_generate_calls += 1
        return seed % (2**31)

    def _turn(self, request: Any, completion: RemoteCompletion) -> Turn:
        experts = completion.routed_experts
        if experts is not None:  # rows for every token fed: the whole prompt and the completion but its last token
            experts = list(experts)[: len(request.full_ids) + len(completion.token_ids) - 1]
        extra = {"finish_reason": completion.finish_reason} if "finish_reason" in Turn.model_fields else {}
        return Turn(prompt_ids=list(request.prompt_ids), completion_ids=list(completion.token_ids),
                    logprobs=[float(x) for x in completion.logprobs], loss_mask=[1] * len(completion.token_ids),
                    routed_experts=experts, policy_version=self.policy_version, **extra)


class VLLMServerPolicy(_RemotePolicy):
    """Samples through a vLLM server's `/v1/completions` with token-id prompts.

    Args:
        tokenizer: the trainer's tokenizer (same vocabulary as the served model).
        base_url: e.g. ``http://127.0.0.1:8000/v1``.
        model: the served model name.
        config: sampling settings (`EnginePolicyConfig`); `max_batch` prompts go out in one request.
        request_routed_experts: send `return_routed_experts` (server started with --enable-return-routed-experts).
    """

    def __init__(self, tokenizer: Any, *, base_url: str, model: str, api_key: str = "EMPTY",
                 config: EnginePolicyConfig | None = None, request_routed_experts: bool = False,
                 timeout_s: float = 300.0, policy_version: int = 0) -> None:
        super().__init__(tokenizer, config, policy_version=policy_version)
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key = api_key
        self.request_routed_experts = request_routed_experts
        self.timeout_s = timeout_s

    def completion_request(self, prompt: list[int], num_samples: int, seed: int) -> dict[str, Any]:
        """The JSON body of one `/v1/completions` call: `num_samples` continuations of one token-id prompt."""
        c = self.config
        body: dict[str, Any] = {
            "model": self.model, "prompt": prompt, "max_tokens": c.max_new_tokens, "temperature": c.temperature,
            "top_p": c.top_p, "n": num_samples, "seed": seed, "logprobs": 1, "echo": False,
            "return_tokens_as_token_ids": True, "return_token_ids": True, "skip_special_tokens": False,
            "stop_token_ids": list(self.tokenizer.stop_ids), "ignore_eos": c.ignore_eos,
        }
        if c.top_k:
            body["top_k"] = c.top_k
        if self.request_routed_experts:
            body["return_routed_experts"] = True
        return body

    def _generate(self, prompts: list[list[int]]) -> list[RemoteCompletion]:
        """One request per distinct prompt (copies of a prompt, a GRPO group, become `n` samples of one seeded
        request, so they differ), sent concurrently."""
        from concurrent.futures import ThreadPoolExecutor

        seed = self._next_seed()
        unique: dict[tuple[int, ...], list[int]] = {}
        for i, p in enumerate(prompts):
            unique.setdefault(tuple(p), []).append(i)
        bodies = [self.completion_request(list(p), len(idx), (seed + k) % (2**31))
                  for k, (p, idx) in enumerate(unique.items())]
        url = f"{self.base_url}/completions"
        with ThreadPoolExecutor(max_workers=min(len(bodies), self.config.max_batch)) as pool:
            responses = list(pool.map(lambda b: post_json(url, b, api_key=self.api_key, timeout_s=self.timeout_s),
                                      bodies))
        out: list[Any] = [None] * len(prompts)
        for idx, response in zip(unique.values(), responses):
            choices = sorted(response.get("choices") or [], key=lambda ch: ch.get("index", 0))
            if len(choices) != len(idx):
                raise ValueError(f"vLLM server returned {len(choices)} choices for n={len(idx)}")
            for i, choice in zip(idx, choices):
                out[i] = parse_choice(choice)
        return out


def parse_choice(choice: dict[str, Any]) -> RemoteCompletion:
    """Token ids (`token_ids`, else `logprobs.tokens` as "token_id:N"), their logprobs and `routed_experts`."""
    lp = choice.get("logprobs") or {}
    logprobs = lp.get("token_logprobs")
    ids = choice.get("token_ids")
    if ids is None:
        tokens = lp.get("tokens") or []
        if not all(isinstance(t, str) and t.startswith("token_id:") for t in tokens):
            raise ValueError("vLLM server returned no token ids: it needs return_token_ids (vLLM >= 0.10.2) or "
                             "return_tokens_as_token_ids")
        ids = [int(t.split(":", 1)[1]) for t in tokens]
    if logprobs is None or len(logprobs) != len(ids) or any(x is None for x in logprobs):
        raise ValueError("vLLM server returned no per-token logprobs for the completion (request sent logprobs=1)")
    return RemoteCompletion(token_ids=[int(t) for t in ids], logprobs=[float(x) for x in logprobs],
                            routed_experts=choice.get("routed_experts"), finish_reason=choice.get("finish_reason"))


def post_json(url: str, body: dict[str, Any] | None, *, api_key: str = "EMPTY", timeout_s: float = 300.0) -> dict:
    """POST a JSON body; a refused connection or an HTTP error becomes a `ConnectionError` naming the URL."""
    data = json.dumps(body if body is not None else {}).encode()
    request = urllib.request.Request(url, data=data, method="POST", headers={
        "Content-Type": "application/json", "Authorization": f"Bearer {api_key}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            raw = response.read()
    except urllib.error.HTTPError as e:
        detail = e.read().decode("utf-8", "replace")[:500]
        raise ConnectionError(f"POST {url} failed: HTTP {e.code}: {detail}") from None
    except (urllib.error.URLError, OSError) as e:
        raise ConnectionError(f"POST {url} failed: {getattr(e, 'reason', e)}") from None
    return json.loads(raw) if raw.strip() else {}


def import_vllm() -> Any:
    """`vllm`, or `DependencyNotInstalled` with the install command."""
    try:
        import vllm
    except ImportError:
        raise DependencyNotInstalled(f"the vLLM rollout backend needs the Python package 'vllm', which is not "
                                     f"installed. Install it with: {VLLM_INSTALL_HINT}") from None
    return vllm


class VLLMOfflinePolicy(_RemotePolicy):
    """Samples with an in-process `vllm.LLM` from token-id prompts (GPU only).

    Args:
        tokenizer: the trainer's tokenizer.
        llm: a `vllm.LLM`, or None to build one from `model` with `llm_kwargs` (e.g.
            `{"enable_return_routed_experts": True}`).
    """

    def __init__(self, tokenizer: Any, *, model: str = "", llm: Any = None, config: EnginePolicyConfig | None = None,
                 llm_kwargs: dict[str, Any] | None = None, policy_version: int = 0) -> None:
        vllm = import_vllm()
        super().__init__(tokenizer, config, policy_version=policy_version)
        self.vllm = vllm
        self.llm = llm if llm is not None else vllm.LLM(model=model, **(llm_kwargs or {}))

    def _generate(self, prompts: list[list[int]]) -> list[RemoteCompletion]:
        c = self.config
        params = self.vllm.SamplingParams(n=1, temperature=c.temperature, top_p=c.top_p, top_k=c.top_k or -1,
                                          max_tokens=c.max_new_tokens, seed=self._next_seed(), logprobs=0,
                                          stop_token_ids=list(self.tokenizer.stop_ids), ignore_eos=c.ignore_eos,
                                          skip_special_tokens=False)
        outputs = self.llm.generate([{"prompt_token_ids": p} for p in prompts], params, use_tqdm=False)
        out = []
        for o in outputs:
            sample = o.outputs[0]
            ids = list(sample.token_ids)
            logprobs = [step[t].logprob for step, t in zip(sample.logprobs, ids)]
            experts = getattr(sample, "routed_experts", None)
            out.append(RemoteCompletion(token_ids=ids, logprobs=logprobs, finish_reason=sample.finish_reason,
                                        routed_experts=experts.tolist() if hasattr(experts, "tolist") else experts))
        return out
