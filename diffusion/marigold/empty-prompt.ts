import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { check } from '../../core/errors.ts';
import { readJsonFile } from '../../core/io/json-file.ts';

/** The token ids of the empty prompt and where they were read. */
export interface EmptyPromptIds {
  /** `[BOS, EOS]`: CLIPTokenizer("") with no padding. */
  ids: [number, number];
  /** The file the ids came from. */
  source: string;
  /** Set when the ids are a fallback that may differ from what the tokenizer would give. */
  warning?: string;
}

/** A special token as tokenizer configs write it: a string, or an AddedToken object `{ content: ... }`. */
function tokenText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string') {
    return (value as { content: string }).content;
  }
  return undefined;
}

/** The BOS / EOS strings the tokenizer declares (special_tokens_map.json, then tokenizer_config.json). */
function specialTokens(dir: string): { bos: string; eos: string } {
  let bos: string | undefined;
  let eos: string | undefined;
  for (const name of ['special_tokens_map.json', 'tokenizer_config.json']) {
    const file = join(dir, name);
    if (!existsSync(file)) continue;
    const raw = readJsonFile(file, 'tokenizer config') as Record<string, unknown>;
    bos ??= tokenText(raw?.bos_token);
    eos ??= tokenText(raw?.eos_token);
  }
  return { bos: bos ?? '<|startoftext|>', eos: eos ?? '<|endoftext|>' };
}

/** Looks a token up in vocab.json, then added_tokens.json, then tokenizer.json (fast tokenizer). */
function tokenId(dir: string, token: string): { id: number; file: string } | undefined {
  for (const name of ['vocab.json', 'added_tokens.json']) {
    const file = join(dir, name);
    if (!existsSync(file)) continue;
    const table = readJsonFile(file, 'tokenizer vocabulary') as Record<string, unknown>;
    const id = table?.[token];
    if (id !== undefined) {
      check(
        Number.isInteger(id) && (id as number) >= 0,
        () => `expected a token id, got ${JSON.stringify(id)}`,
        {
          file,
          key: token,
        },
      );
      return { id: id as number, file };
    }
  }
  const fast = join(dir, 'tokenizer.json');
  if (existsSync(fast)) {
    const raw = readJsonFile(fast, 'tokenizer') as {
      added_tokens?: Array<{ id?: unknown; content?: unknown }>;
      model?: { vocab?: Record<string, unknown> };
    };
    const added = raw?.added_tokens?.find((t) => t.content === token);
    const id = added?.id ?? raw?.model?.vocab?.[token];
    if (Number.isInteger(id)) return { id: id as number, file: fast };
  }
  return undefined;
}

/**
 * The empty prompt's token ids `[BOS, EOS]`, read from the checkpoint's `tokenizer/` folder (vocab.json /
 * added_tokens.json / tokenizer.json, with the special-token strings of special_tokens_map.json or
 * tokenizer_config.json). Without a tokenizer folder, falls back to `bos_token_id` / `eos_token_id` of
 * `text_encoder/config.json` and says so in `warning`: in real SD2 checkpoints those (0, 2) differ from the
 * tokenizer's (49406, 49407).
 */
export function emptyPromptTokenIds(
  tokenizerDir: string | undefined,
  textEncoderConfigFile: string,
): EmptyPromptIds {
  if (tokenizerDir && existsSync(tokenizerDir)) {
    const { bos, eos } = specialTokens(tokenizerDir);
    const b = tokenId(tokenizerDir, bos);
    const e = tokenId(tokenizerDir, eos);
    check(
      b && e,
      () =>
        `the tokenizer has no id for ${!b ? bos : eos} (looked in vocab.json, added_tokens.json, tokenizer.json)`,
      {
        file: tokenizerDir,
        key: !b ? bos : eos,
      },
    );
    return { ids: [b.id, e.id], source: b.file };
  }
  const raw = readJsonFile(textEncoderConfigFile, 'text encoder config') as Record<string, unknown>;
  const bos = raw?.bos_token_id;
  const eos = raw?.eos_token_id;
  check(
    Number.isInteger(bos) && Number.isInteger(eos),
    () => 'no tokenizer/ folder and no bos_token_id / eos_token_id',
    {
      file: textEncoderConfigFile,
      key: 'bos_token_id',
    },
  );
  return {
    ids: [bos as number, eos as number],
    source: textEncoderConfigFile,
    warning:
      `no tokenizer/ folder: using bos_token_id=${bos}, eos_token_id=${eos} from text_encoder/config.json; ` +
      'real CLIP tokenizers use 49406/49407 instead, so add the tokenizer files for faithful results',
  };
}
