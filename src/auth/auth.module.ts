import { Module } from '@nestjs/common';
import { JwtModule } from '@nestjs/jwt';
import { HttpJwtGuard } from './http-jwt.guard.js';
import { TokenService } from './token.service.js';

@Module({
  imports: [JwtModule.register({})],
  providers: [TokenService, HttpJwtGuard],
  exports: [TokenService, HttpJwtGuard],
})
export class AuthModule {}
