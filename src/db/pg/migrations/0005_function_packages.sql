CREATE TABLE "function_packages" (
	"sha256" text PRIMARY KEY NOT NULL,
	"zip" "bytea" NOT NULL,
	"size" bigint NOT NULL,
	"created_at" bigint NOT NULL
);
