import { z } from 'zod';

// Login checks no email format: any mistake gets the same generic answer.
export const loginBody = z.strictObject({
  email: z.string().trim().toLowerCase().min(1).max(254),
  password: z.string().min(1).max(256),
});

export const refreshTokenBody = z.strictObject({
  refreshToken: z.string().min(1).max(256),
});
