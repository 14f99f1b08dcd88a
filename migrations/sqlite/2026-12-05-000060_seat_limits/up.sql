-- Seat limits (DESIGN.md, "Access, integration": Seats). The plan sets an organization's
-- default limit; staff may override it per organization. NULL means the plan's default.
ALTER TABLE organizations ADD COLUMN seat_limit INTEGER CHECK (seat_limit IS NULL OR seat_limit >= 0);
