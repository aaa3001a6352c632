CREATE TABLE "generations" (
	"name" text PRIMARY KEY NOT NULL,
	"value" bigint NOT NULL
);
