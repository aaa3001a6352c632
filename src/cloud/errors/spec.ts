/**
 * What a catalogue entry says about one error code: the HTTP status the wire answers it with, AWS's own wording where
 * AWS words it the same way each time (`message`, from the resource's id), and, for a domain error that both EC2 and
 * Lambda raise (tags, paging), its name in Lambda's words.
 */
export interface ErrorSpec {
  readonly status: number;
  readonly message?: (id: string) => string;
  readonly lambda?: string;
}

/** A client error (400), as most are. */
export const client = { status: 400 } as const satisfies ErrorSpec;

/** A client error whose message is AWS's fixed wording about one resource. */
export const worded = (message: (id: string) => string, status = 400) => ({ status, message }) satisfies ErrorSpec;
