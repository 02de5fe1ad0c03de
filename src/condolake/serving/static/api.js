// Calls to this server's REST API (same origin, X-API-Key header), and their errors in pt-BR.

const PAGE_LIMIT = 1000; // the API's maximum page size
const MAX_SNAPSHOT_RETRIES = 3; // a table changed version while we paged: start over

export class ApiError extends Error {
  constructor(status, detail, path) {
    super(`HTTP ${status} em ${path}`);
    this.status = status;
    this.detail = detail;
    this.path = path;
  }
}

function apiUrl(path, params = {}) {
  const url = new URL(path, document.baseURI);
  for (const [name, value] of Object.entries(params)) {
    url.searchParams.set(name, String(value));
  }
  return url;
}

async function errorDetail(response) {
  try {
    const body = await response.json();
    return typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
  } catch (_) {
    return response.statusText;
  }
}

/** One GET; a network failure is ApiError status 0, an HTTP error its status. */
export async function apiGet(key, path, params) {
  let response;
  try {
    response = await fetch(apiUrl(path, params), {
      headers: { "X-API-Key": key, Accept: "application/json" },
      cache: "no-store",
    });
  } catch (cause) {
    throw new ApiError(0, String(cause), path);
  }
  if (!response.ok) {
    throw new ApiError(response.status, await errorDetail(response), path);
  }
  return response.json();
}

/** Every page of a list endpoint (limit/offset until next_offset is null), all from one
 * table version: {items, version}. */
export async function fetchAll(key, path, params = {}) {
  for (let attempt = 0; attempt < MAX_SNAPSHOT_RETRIES; attempt += 1) {
    const items = [];
    let offset = 0;
    let version = null;
    for (;;) {
      const page = await apiGet(key, path, { ...params, limit: PAGE_LIMIT, offset });
      if (version === null) version = page.table_version;
      if (page.table_version !== version) break;
      items.push(...page.items);
      if (page.next_offset === null || page.next_offset === undefined) {
        return { items, version };
      }
      if (page.next_offset <= offset) {
        throw new Error(`paginação sem avanço em ${path} (offset ${offset})`);
      }
      offset = page.next_offset;
    }
  }
  throw new Error(`a tabela de ${path} mudou de versão durante a leitura; tente de novo`);
}

/** The daily mart, or null when this key may not read it (403: keys scoped to a condo). */
export async function fetchDaily(key) {
  try {
    return await fetchAll(key, "v1/transacoes-diarias-por-tipo");
  } catch (error) {
    if (error instanceof ApiError && error.status === 403) return null;
    throw error;
  }
}

export function isAuthError(error) {
  return error instanceof ApiError && (error.status === 401 || error.status === 403);
}

export function errorMessage(error) {
  if (!(error instanceof ApiError)) return `Erro inesperado: ${error.message}`;
  switch (error.status) {
    case 0:
      return "Não foi possível conectar ao servidor. Verifique se o CondoLake está em " +
             "execução.";
    case 401:
      return "Chave de API inválida ou ausente. Confira a chave e tente novamente.";
    case 403:
      return "Acesso negado: esta chave não tem permissão para ver estes dados.";
    case 503:
      return "Os dados ainda não estão disponíveis: as tabelas gold não foram geradas " +
             "(execute condolake batch).";
    default:
      return `Erro ${error.status} ao consultar ${error.path}: ${error.detail}`;
  }
}
