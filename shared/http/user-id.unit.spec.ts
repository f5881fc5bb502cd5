import { describe, expect, it } from "vitest";
import { HttpProblem } from "./problem.ts";
import { requireUserId, USER_ID_PARAMETER } from "./user-id.ts";

describe("requireUserId", () => {
  it("given a user id of the form orders take, when checked, then answers it as it is", () => {
    for (const id of ["u1", "A_b-9", "x".repeat(64)]) expect(requireUserId(id)).toBe(id);
  });

  it("given anything else, when checked, then throws a 404 user-not-found problem naming the form", () => {
    for (const id of ["", "x".repeat(65), "a.b", "*", ">", "a b", "ü"]) {
      let thrown: unknown;
      try {
        requireUserId(id);
      } catch (err) {
        thrown = err;
      }
      expect(thrown, JSON.stringify(id)).toBeInstanceOf(HttpProblem);
      expect((thrown as HttpProblem).toProblem()).toMatchObject({
        status: 404,
        type: "https://orderstream.dev/problems/user-not-found",
        detail: "User ids are 1-64 letters, digits, '_' or '-'.",
      });
    }
  });
});

describe("USER_ID_PARAMETER", () => {
  it("given the documented pattern, when ids are matched against it, then it accepts what requireUserId accepts", () => {
    const pattern = new RegExp(USER_ID_PARAMETER.schema.pattern);
    for (const id of ["u1", "x".repeat(64)]) expect(pattern.test(id)).toBe(true);
    for (const id of ["", "x".repeat(65), "a.b", "*"]) expect(pattern.test(id)).toBe(false);
  });
});
